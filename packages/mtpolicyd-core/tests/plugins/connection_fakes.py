"""In-process stand-ins for back-end connections (unit tests only) and a plugin builder using them.

SQL is real: an :class:`SqlConnection` on an SQLite file (embedded, no server), so
tests can read the same file with a synchronous engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.connections.ldap import LdapConnection
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.plugin import Plugin, PluginContext
from sqlalchemy import Engine, create_engine


class FakeKeyValue:
    """memcached or Redis as the plugins use them through their connection: keys with expiry."""

    errors: tuple[type[BaseException], ...] = (ConnectionError,)

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.name = ""
        self.config = ConnectionConfig("", "", {})

    def value(self, key: str) -> bytes | None:
        """What is stored at ``key`` now (expired entries are dropped)."""
        value, expires = self.data.get(key, (None, None))
        if expires is not None and time.time() >= expires:
            del self.data[key]
            return None
        return value

    async def get(self, key: str) -> bytes | None:
        return self.value(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self.data[key] = (value, time.time() + ttl if ttl else None)

    async def add(self, key: str, value: bytes, ttl: int) -> bool:
        if self.value(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def ttl(self, key: str) -> float | None:
        expires = self.data[key][1]
        return None if expires is None else expires - time.time()

    def expires_in(self, key: str) -> float:
        """Seconds until ``key`` expires; an error if it was stored without expiry."""
        seconds = self.ttl(key)
        if seconds is None:
            raise KeyError(f"{key} was stored without expiry")
        return seconds

    def describe(self) -> str:
        return f"fake {self.name}"

    def reconnect(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class FakeMemcached(FakeKeyValue):
    """A memcached connection."""


class FakeRedisClient:
    """The part of redis.asyncio's client the plugins use directly."""

    def __init__(self, store: FakeRedis) -> None:
        self.store = store

    async def get(self, key: str) -> bytes | None:
        return self.store.value(key)

    async def set(self, key: str, value: Any, ex: int | None = None, **_: Any) -> bool:
        await self.store.set(key, str(value).encode(), ex or 0)
        return True

    async def incr(self, key: str) -> int:
        value = int(self.store.value(key) or 0) + 1
        expires = self.store.data.get(key, (b"", None))[1]
        self.store.data[key] = (str(value).encode(), expires)
        return value

    async def expire(self, key: str, seconds: int) -> bool:
        if key not in self.store.data:
            return False
        self.store.data[key] = (self.store.data[key][0], time.time() + seconds)
        return True

    async def delete(self, key: str) -> int:
        return 1 if self.store.data.pop(key, None) is not None else 0


class FakeRedis(FakeKeyValue):
    """A Redis connection: keys with expiry, ``incr``/``expire``, ``handle`` as redis.asyncio's client."""

    @property
    def handle(self) -> FakeRedisClient:
        return FakeRedisClient(self)

    async def incr(self, key: str) -> int:
        return await self.handle.incr(key)

    async def expire(self, key: str, ttl: int) -> None:
        await self.handle.expire(key, ttl)


@dataclass
class StaticConnection:
    """A connection whose client object is given."""

    name: str
    config: ConnectionConfig
    handle: Any

    def reconnect(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


#: the SQL connections handed to plugins; ``plugins/conftest.py`` closes them after each test
OPENED_SQL: list[SqlConnection] = []


def sqlite_engine(path: Any) -> Engine:
    """An SQLite database in a file, read synchronously by the tests."""
    return create_engine(f"sqlite:///{path}")


def pool_of(**connections: tuple[str, Any]) -> ConnectionPool:
    """A pool with ``name=(module, connection)``; an Engine becomes a real SqlConnection on its database."""
    pool = ConnectionPool()
    for name, (module, given) in connections.items():
        pool._connections[name] = as_connection(name, module, given)
    return pool


def as_connection(name: str, module: str, given: Any) -> Any:
    """The connection object the plugins get for what a test gave."""
    config = ConnectionConfig(name, module, {"url": str(getattr(given, "url", ""))})
    if isinstance(given, Engine):
        OPENED_SQL.append(SqlConnection(config))
        return OPENED_SQL[-1]
    if module == "Ldap":  # an ldap3 connection (its mock strategy) behind a real LdapConnection
        ldap = LdapConnection(config)
        ldap._connection = given
        return ldap
    if isinstance(given, FakeKeyValue):
        given.name, given.config = name, config
        return given
    return StaticConnection(name, config, given)


async def build(
    block: Block, pool: ConnectionPool, dialect: str = "2", warnings: list[str] | None = None
) -> Plugin:
    """Build one plugin from its block with these connections, and start it (tables created)."""
    found = warnings if warnings is not None else []
    context = PluginContext("test", dialect, pool, build_chain, found)  # type: ignore[arg-type]
    chain = build_chain([block], context)
    await chain.startup()
    return chain.plugins[0]
