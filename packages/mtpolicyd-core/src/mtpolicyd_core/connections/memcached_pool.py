"""memcached over several servers: each key goes to one server, chosen as pymemcache's HashClient does.

A server that fails (no answer in time, refused or broken connection) is left out for ``dead_retry``
seconds: its keys go to the other servers meanwhile (what it held is not there), then it is tried
again. The command that met the failure fails, unless it was never sent (the server refused the
connection or could not be reached): then it goes to the key's next server at once, so a server that is
down costs no failed command, only what it held. With one server nothing is remapped: errors are raised.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Concatenate, Final, ParamSpec, TypeVar

from pymemcache.client.rendezvous import RendezvousHash

from mtpolicyd_core.connections.memcached_errors import (
    SERVER_FAILURES,
    MemcachedConnectionError,
    MemcachedNotConnected,
)
from mtpolicyd_core.connections.memcached_protocol import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    MemcachedClient,
)
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.perl.comma_list import comma_list

DEFAULT_SERVERS: Final = "127.0.0.1:11211"
#: seconds a failed server stays out of the ring before it is tried again
DEFAULT_DEAD_RETRY: Final = 1.0
#: keys whose server is remembered (hashing a key costs about 10 µs per server)
HASHED_KEYS: Final = 4096
SERVER_SPEC: Final = re.compile(
    r"\[(?P<ipv6>[^\]\s]+)\](?::(?P<port6>\d+))?|(?P<host>[^\s:\[\]]+)(?::(?P<port>\d+))?"
)

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def parse_servers(servers: str) -> list[tuple[str, int]]:
    """``"host:port, host, [IPv6]:port"`` (as Cache::Memcached takes them) as (host, port) pairs."""
    pairs = []
    for spec in comma_list(servers.strip()):
        match = SERVER_SPEC.fullmatch(spec)
        port = int(match["port6"] or match["port"] or DEFAULT_PORT) if match else 0
        if match is None or not 0 < port < 65536:
            raise ConfigError(
                f"memcached servers: cannot read {spec!r} (want host, host:port or [IPv6]:port)"
            )
        pairs.append((match["ipv6"] or match["host"], port))
    if not pairs:
        raise ConfigError("memcached servers: no server given")
    return pairs


class MemcachedPool:
    """The MemcachedClient commands over the servers of a ``servers`` list, each key on one of them.

    Nothing connects before the first command, which must run in the loop that will use the pool: a
    pre-forked worker creates (or first uses) it after the fork.
    """

    def __init__(
        self,
        servers: str = DEFAULT_SERVERS,
        *,
        name: str = "memcached",
        namespace: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        dead_retry: float = DEFAULT_DEAD_RETRY,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.servers = servers
        self.dead_retry = dead_retry
        self._clock = clock
        #: clients by hash node name, ``host:port`` as HashClient names them
        self.clients = {
            f"{host}:{port}": MemcachedClient(
                host,
                port,
                namespace=namespace,
                timeout=timeout,
                connect_timeout=connect_timeout,
                max_in_flight=max_in_flight,
            )
            for host, port in parse_servers(servers)
        }
        self._single = next(iter(self.clients.values())) if len(self.clients) == 1 else None
        self._dead_until: dict[str, float] = {}
        self._next_revival = math.inf
        self._ring = RendezvousHash(nodes=list(self.clients))
        self._node_of = functools.lru_cache(maxsize=HASHED_KEYS)(self._ring.get_node)

    def describe(self) -> str:
        """``memcached NAME (servers)`` for error messages."""
        return f"memcached {self.name} ({self.servers})"

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, None if there is none."""
        return await self._on_server(MemcachedClient.get, key)

    async def set(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` for ``exptime`` seconds (0: no expiry; over 30 days: a Unix time)."""
        return await self._on_server(MemcachedClient.set, key, value, exptime)

    async def add(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` only if ``key`` holds nothing; False if it does."""
        return await self._on_server(MemcachedClient.add, key, value, exptime)

    async def replace(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` only if ``key`` holds something; False if not."""
        return await self._on_server(MemcachedClient.replace, key, value, exptime)

    async def delete(self, key: str) -> bool:
        """Delete ``key``; False if it held nothing."""
        return await self._on_server(MemcachedClient.delete, key)

    async def incr(self, key: str, delta: int = 1) -> int | None:
        """Add ``delta`` to the decimal number under ``key``; the new value, None if there is none."""
        return await self._on_server(MemcachedClient.incr, key, delta)

    async def decr(self, key: str, delta: int = 1) -> int | None:
        """Subtract ``delta`` (memcached stops at 0); the new value, None if there is none."""
        return await self._on_server(MemcachedClient.decr, key, delta)

    async def touch(self, key: str, exptime: int) -> bool:
        """Give ``key`` a new lifetime; False if it holds nothing."""
        return await self._on_server(MemcachedClient.touch, key, exptime)

    async def flush_all(self) -> None:
        """Drop every key on every server in use (tests)."""
        live = [client for node, client in self.clients.items() if node not in self._dead_until]
        await asyncio.gather(*(client.flush_all() for client in live))

    async def aclose(self) -> None:
        """Close every server's connection."""
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))

    def client_for(self, key: str) -> MemcachedClient:
        """The client of the server that holds ``key`` now."""
        if self._single is not None:
            return self._single
        if self._next_revival <= self._clock():
            self._revive()
        node = self._node_of(key)
        if node is None:
            raise MemcachedConnectionError(
                f"every server failed; trying again within {self.dead_retry} s", self.servers
            )
        return self.clients[node]

    async def _on_server(
        self,
        command: Callable[Concatenate[MemcachedClient, str, P], Awaitable[T]],
        key: str,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``command`` on the server of ``key``; leave that server out a while if it failed.

        A command that was never sent goes on to the key's next server (each server at most once).
        """
        tried: list[str] = []
        while True:
            client = self.client_for(key)
            try:
                return await command(client, key, *args, **kwargs)
            except SERVER_FAILURES as error:
                if self._single is not None:
                    raise
                self._leave_out(client, error)
                tried.append(client.address)
                if not isinstance(error, MemcachedNotConnected) or self._next_client_tried(key, tried):
                    raise

    def _next_client_tried(self, key: str, tried: list[str]) -> bool:
        """Whether the server ``key`` maps to now was tried already (or none is left)."""
        node = self._node_of(key)
        return node is None or self.clients[node].address in tried

    def _leave_out(self, client: MemcachedClient, error: Exception) -> None:
        node = f"{client.host}:{client.port}"
        if node in self._dead_until:
            return
        logger.warning(
            "%s: %s; its keys go to the other servers for %s s", self.describe(), error, self.dead_retry
        )
        self._dead_until[node] = self._clock() + self.dead_retry
        self._next_revival = min(self._dead_until.values())
        self._ring.remove_node(node)
        self._node_of.cache_clear()

    def _revive(self) -> None:
        now = self._clock()
        for node, until in list(self._dead_until.items()):
            if until <= now:
                logger.info("%s: trying %s again", self.describe(), node)
                del self._dead_until[node]
                self._ring.add_node(node)
        self._next_revival = min(self._dead_until.values(), default=math.inf)
        self._node_of.cache_clear()
