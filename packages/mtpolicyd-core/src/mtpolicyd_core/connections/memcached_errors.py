"""What the asyncio memcached client raises; every error names the server it concerns."""

from __future__ import annotations

from mtpolicyd_core.errors import MtPolicydError


class MemcachedError(MtPolicydError):
    """A memcached command failed; ``server`` is ``host:port`` (or the server list of a pool)."""

    def __init__(self, message: str, server: str = "") -> None:
        self.server = server
        super().__init__(f"memcached {server}: {message}" if server else f"memcached: {message}")


class MemcachedKeyError(MemcachedError, ValueError):
    """memcached cannot take this key (length, blanks, control characters): hash it first."""


class MemcachedTimeout(MemcachedError):
    """No connection or no answer in time; the connection was closed, its pending commands failed."""


class MemcachedConnectionError(MemcachedError):
    """The server cannot be reached, or the connection broke while commands were pending."""


class MemcachedNotConnected(MemcachedConnectionError):
    """The server refused the connection or cannot be reached: the command was never sent."""


class MemcachedConnectionLost(MemcachedConnectionError):
    """The server closed the connection before answering (restarted): the command may be resent once."""


class MemcachedProtocolError(MemcachedError):
    """An answer that fits no command (garbage, wrong key): the connection was closed."""


class MemcachedServerError(MemcachedError):
    """The server answered ``ERROR``, ``CLIENT_ERROR …`` or ``SERVER_ERROR …``."""


#: failures of the server or the path to it (not of one command): a pool leaves the server out a while
SERVER_FAILURES = (MemcachedTimeout, MemcachedConnectionError, MemcachedProtocolError)
