"""policy-sim: drives a Postfix policy daemon the way Postfix does."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("policy-sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
