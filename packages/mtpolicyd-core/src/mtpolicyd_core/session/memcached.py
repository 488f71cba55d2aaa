"""Session primitives on memcached: ``add`` takes the lock, keys as the original names them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TypeVar

from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

from mtpolicyd_core.connections.memcached import MemcachedConnection

#: what memcached accepts in a key (the connection's namespace is added by the client)
SAFE_KEY = re.compile(r"[!-~]{1,200}")
#: a socket the server closed (restarted memcached): the client reconnects on the next command
STALE_CONNECTION = (MemcacheUnexpectedCloseError, BrokenPipeError, ConnectionResetError)
Result = TypeVar("Result")


def once_more_if_stale(command: Callable[[], Result]) -> Result:
    """Run ``command``; again once when it failed on a connection the server had closed."""
    try:
        return command()
    except STALE_CONNECTION:
        return command()


def memcached_key(key: str) -> str:
    """``key`` itself, or a digest of it when memcached could not take it (spaces, length, non-ASCII)."""
    if SAFE_KEY.fullmatch(key):
        return key
    return "sha1_" + hashlib.sha1(key.encode(errors="surrogateescape")).hexdigest()


class MemcachedBackend:
    """Lock ``lock_<instance>`` via ``add``; the lock is deleted without an owner check, as the original."""

    errors: tuple[type[BaseException], ...] = (MemcacheError, OSError)

    def __init__(self, connection: MemcachedConnection) -> None:
        self.connection = connection

    def describe(self) -> str:
        """The connection, for error messages."""
        return self.connection.describe()

    def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """memcached ``add``: atomic create-if-absent."""
        lock = memcached_key(key)
        return bool(once_more_if_stale(
            lambda: self.connection.handle.add(lock, token.encode(), expire=ttl, noreply=False)))

    def delete_lock(self, key: str, token: str) -> None:
        """memcached ``delete`` (it cannot compare and delete in one step)."""
        once_more_if_stale(lambda: self.connection.handle.delete(memcached_key(key), noreply=False))

    def get(self, key: str) -> bytes | None:
        """memcached ``get``."""
        value = once_more_if_stale(lambda: self.connection.handle.get(memcached_key(key)))
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """memcached ``set`` with expiry."""
        stored = once_more_if_stale(
            lambda: self.connection.handle.set(memcached_key(key), value, expire=ttl, noreply=False))
        if not stored:
            raise MemcacheError(f"memcached refused to store {key}")

    def reconnect(self) -> None:
        """Re-open the connection."""
        self.connection.reconnect()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
