"""``<Connection> module = "Memcached"``: memcached over one or more servers, as an async key/value store.

Commands go through :class:`MemcachedPool` (one pipelined asyncio connection per server, keys
hashed over servers as pymemcache does); keys memcached cannot take are stored under a digest.
"""

from __future__ import annotations

import hashlib
import re

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.configured import SECONDS, SWITCH, ConfiguredConnection, ConnectionOptionError
from mtpolicyd_core.connections.memcached_errors import MemcachedError
from mtpolicyd_core.connections.memcached_pool import (
    DEFAULT_DEAD_RETRY,
    DEFAULT_SERVERS,
    MemcachedPool,
    parse_servers,
)
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.options import STR, Option

#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0
#: what memcached accepts in a key (the connection's namespace is added by the client)
SAFE_KEY = re.compile(r"[!-~]{1,200}")
#: keys too long or unsafe for memcached are stored under this prefix and their digest
HASHED_PREFIX = "sha1_"


def memcached_key(key: str) -> str:
    """``key`` itself, or a digest of it when memcached could not take it (spaces, length, non-ASCII).

    A key that already looks like a digest is hashed too, so no key sent by a client can
    name the entry of another key's digest.
    """
    if SAFE_KEY.fullmatch(key) and not key.startswith(HASHED_PREFIX):
        return key
    return HASHED_PREFIX + hashlib.sha1(key.encode(errors="surrogateescape")).hexdigest()


class MemcachedConnection(ConfiguredConnection):
    """memcached on one or more servers; keys are spread over them by rendezvous hashing."""

    module = "Memcached"
    errors: tuple[type[BaseException], ...] = (MemcachedError,)

    servers = Option(
        STR,
        default=DEFAULT_SERVERS,
        doc="comma-separated `host`, `host:port` or `[IPv6]:port` (port 11211 by default); each key"
        " lives on one of them, chosen by rendezvous hashing as pymemcache's HashClient does",
    )
    namespace = Option(STR, default="", doc="prefix of every key (sessions, Greylist tickets, Honeypot)")
    debug = Option(SWITCH, default="0", doc="accepted as in the original; ignored")
    timeout = Option(
        SECONDS, default=str(DEFAULT_TIMEOUT), doc="ours: seconds to connect and to wait for each answer"
    )
    dead_retry = Option(
        SECONDS,
        default=str(int(DEFAULT_DEAD_RETRY)),
        doc="ours: seconds a server that failed is left out (its keys go to the others), then tried again",
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._pool: MemcachedPool | None = None

    def check(self) -> None:
        try:
            parse_servers(self.servers)
        except ConfigError as error:
            raise ConnectionOptionError("servers", error.message) from None

    def describe(self) -> str:
        """``memcached NAME (servers)`` for error messages."""
        return f"memcached {self.name} ({self.servers})"

    @property
    def handle(self) -> MemcachedPool:
        """The servers' clients (connecting on first command, in the running loop)."""
        if self._pool is None:
            self._pool = MemcachedPool(
                self.servers,
                name=self.name,
                namespace=self.namespace,
                timeout=self.timeout,
                dead_retry=self.dead_retry,
            )
        return self._pool

    async def get(self, key: str) -> bytes | None:
        """The value at ``key``, or None."""
        return await self.handle.get(memcached_key(key))

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds (0: no expiry)."""
        if not await self.handle.set(memcached_key(key), value, ttl):
            raise MemcachedError(f"refused to store {key}", self.servers)

    async def add(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` only if ``key`` holds nothing; whether it did."""
        return await self.handle.add(memcached_key(key), value, ttl)

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        await self.handle.delete(memcached_key(key))

    def same_server(self, key: str, other: str) -> bool:
        """Whether one server holds both keys now (commands to it are answered in order)."""
        pool = self.handle
        return pool.client_for(memcached_key(key)) is pool.client_for(memcached_key(other))

    def reconnect(self) -> None:
        """Forget the parent's connections (after fork); the next command connects again."""
        self._pool = None

    async def aclose(self) -> None:
        """Close every server's connection."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()
