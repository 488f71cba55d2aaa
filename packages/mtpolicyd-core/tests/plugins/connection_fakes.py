"""In-process stand-ins for back-end connections (unit tests only) and a plugin builder using them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.plugin import Plugin, PluginContext
from sqlalchemy import Engine, create_engine


@dataclass
class StaticConnection:
    """A connection whose client object is given."""

    name: str
    config: ConnectionConfig
    client: Any

    @property
    def handle(self) -> Any:
        return self.client

    def reconnect(self) -> None:
        pass

    def close(self) -> None:
        pass


def pool_of(**clients: tuple[str, Any]) -> ConnectionPool:
    """A pool with ``name=(module, client)`` connections."""
    pool = ConnectionPool()
    for name, (module, client) in clients.items():
        pool._connections[name] = StaticConnection(name, ConnectionConfig(name, module, {}), client)
    return pool


def sqlite_engine(path: Any) -> Engine:
    """An SQLite database in a file."""
    return create_engine(f"sqlite:///{path}")


class FakeMemcached:
    """The part of pymemcache's client the plugins use, with expiry."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float | None]] = {}

    def get(self, key: str) -> bytes | None:
        value, expires = self.data.get(key, (None, None))
        if expires is not None and time.time() >= expires:
            del self.data[key]
            return None
        return value

    def set(self, key: str, value: Any, expire: int = 0, noreply: bool | None = None) -> bool:
        self.data[key] = (str(value).encode(), time.time() + expire if expire else None)
        return True

    def delete(self, key: str, noreply: bool | None = None) -> bool:
        return self.data.pop(key, None) is not None

    def ttl(self, key: str) -> float | None:
        expires = self.data[key][1]
        return None if expires is None else expires - time.time()


class FakeRedis(FakeMemcached):
    """The part of redis-py the plugins use."""

    def set(self, key: str, value: Any, ex: int | None = None, **_: Any) -> bool:  # type: ignore[override]
        return super().set(key, value, expire=ex or 0)

    def incr(self, key: str) -> int:
        value = int(self.get(key) or 0) + 1
        expires = self.data.get(key, (b"", None))[1]
        self.data[key] = (str(value).encode(), expires)
        return value

    def expire(self, key: str, seconds: int) -> bool:
        if key not in self.data:
            return False
        self.data[key] = (self.data[key][0], time.time() + seconds)
        return True


def build(
    block: Block, pool: ConnectionPool, dialect: str = "2", warnings: list[str] | None = None
) -> Plugin:
    """Build one plugin from its block with these connections."""
    found = warnings if warnings is not None else []
    context = PluginContext("test", dialect, pool, build_chain, found)  # type: ignore[arg-type]
    return build_chain([block], context).plugins[0]
