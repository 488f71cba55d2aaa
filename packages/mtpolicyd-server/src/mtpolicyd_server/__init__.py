"""mtpolicyd for Python: the policy server."""

from mtpolicyd_core import __version__

__all__ = ["__version__"]
