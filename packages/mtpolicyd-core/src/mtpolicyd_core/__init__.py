"""mtpolicyd for Python: the parts that know no sockets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mtpolicyd-core")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
