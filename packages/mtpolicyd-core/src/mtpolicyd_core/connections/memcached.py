"""``<Connection> module = "Memcached"``: memcached over one or more servers, as an async key/value store.

Interim implementation on pymemcache (its calls block the loop for at most the
timeout); the asyncio client replaces it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TypeVar

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.perl.comma_list import comma_list

DEFAULT_SERVERS = "127.0.0.1:11211"
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0
#: seconds a failed server stays out of the ring before it is tried again
DEAD_TIMEOUT = 1.0
#: what memcached accepts in a key (the connection's namespace is added by the client)
SAFE_KEY = re.compile(r"[!-~]{1,200}")
#: keys too long or unsafe for memcached are stored under this prefix and their digest
HASHED_PREFIX = "sha1_"
#: a socket the server closed (restarted memcached): the client reconnects on the next command
STALE_CONNECTION = (MemcacheUnexpectedCloseError, BrokenPipeError, ConnectionResetError)
#: what a failing memcached raises
MEMCACHED_ERRORS: tuple[type[BaseException], ...] = (MemcacheError, OSError)
Result = TypeVar("Result")


def parse_servers(servers: str) -> list[tuple[str, int]]:
    """``"host:port, host2:port2"`` (as Cache::Memcached takes them) as (host, port) pairs."""
    pairs = []
    for spec in comma_list(servers.strip()):
        host, _, port = spec.rpartition(":")
        pairs.append((host.strip("[]") or spec, int(port) if host else 11211))
    return pairs


def memcached_key(key: str) -> str:
    """``key`` itself, or a digest of it when memcached could not take it (spaces, length, non-ASCII).

    A key that already looks like a digest is hashed too, so no key sent by a client can
    name the entry of another key's digest.
    """
    if SAFE_KEY.fullmatch(key) and not key.startswith(HASHED_PREFIX):
        return key
    return HASHED_PREFIX + hashlib.sha1(key.encode(errors="surrogateescape")).hexdigest()


def once_more_if_stale(command: Callable[[], Result]) -> Result:
    """Run ``command``; again once when it failed on a connection the server had closed."""
    try:
        return command()
    except STALE_CONNECTION:
        return command()


class MemcachedConnection:
    """Options ``servers`` (comma list), ``namespace`` (key prefix), ``timeout`` (seconds)."""

    errors = MEMCACHED_ERRORS

    def __init__(self, config: ConnectionConfig) -> None:
        self.name = config.name
        self.servers = config.options.get("servers", DEFAULT_SERVERS)
        self.namespace = config.options.get("namespace", "")
        self.timeout = float(config.options.get("timeout", DEFAULT_TIMEOUT))
        self._client: Client | HashClient | None = None

    def describe(self) -> str:
        """``memcached NAME (servers)`` for error messages."""
        return f"memcached {self.name} ({self.servers})"

    @property
    def handle(self) -> Client | HashClient:
        """One server: a Client that reconnects on its next command after an error. Several: a
        HashClient over them, where a failed server raises at once and rejoins after DEAD_TIMEOUT."""
        if self._client is None:
            servers = parse_servers(self.servers)
            common = {
                "connect_timeout": self.timeout,
                "timeout": self.timeout,
                "key_prefix": self.namespace.encode(),
                "default_noreply": False,
            }
            if len(servers) == 1:
                self._client = Client(servers[0], **common)
            else:
                self._client = HashClient(servers, retry_attempts=0, dead_timeout=DEAD_TIMEOUT, **common)
        return self._client

    async def get(self, key: str) -> bytes | None:
        """The value at ``key``, or None."""
        value = once_more_if_stale(lambda: self.handle.get(memcached_key(key)))
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds (0: no expiry)."""
        stored = once_more_if_stale(
            lambda: self.handle.set(memcached_key(key), value, expire=ttl, noreply=False)
        )
        if not stored:
            raise MemcacheError(f"memcached refused to store {key}")

    async def add(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` only if ``key`` holds nothing; whether it did."""
        return bool(
            once_more_if_stale(lambda: self.handle.add(memcached_key(key), value, expire=ttl, noreply=False))
        )

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        once_more_if_stale(lambda: self.handle.delete(memcached_key(key), noreply=False))

    def reconnect(self) -> None:
        """Forget the parent's sockets (after fork); the next use connects again."""
        self._client = None

    async def aclose(self) -> None:
        """Close every server's socket."""
        if self._client is not None:
            self._client.close()
            self._client = None
