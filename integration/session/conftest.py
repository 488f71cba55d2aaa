"""One fixture parametrized over every real session back-end: memcached, Redis, MariaDB, SQLite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from mtpolicyd_core.config.model import ConnectionConfig, SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.session.factory import build_session_cache
from mtpolicyd_core.session.locking import LockingSessionCache

from integration.fixtures.mariadb import MariaDBServer
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.redis import RedisServer

_namespaces = itertools.count(1)


@dataclass(frozen=True)
class BackendSpec:
    """Everything a process needs to open its own session cache on a shared back-end (picklable)."""

    name: str
    module: str
    options: dict[str, str]
    settings: SessionCacheConfig = field(default_factory=SessionCacheConfig)

    def with_settings(self, **settings: object) -> BackendSpec:
        """The same back-end with other lock/expiry settings."""
        return replace(self, settings=replace(self.settings, **settings))  # type: ignore[arg-type]

    def open(self) -> LockingSessionCache:
        """A new session cache (own connection) on this back-end."""
        connections = ConnectionPool([ConnectionConfig("session", self.module, self.options)])
        settings = replace(self.settings, module=self.module, connection="session")
        cache = build_session_cache(settings, connections)
        assert isinstance(cache, LockingSessionCache)
        return cache


@pytest.fixture(params=["memcached", "redis", "mariadb", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendSpec]:
    """A session back-end with a namespace of its own for this test."""
    namespace = f"t{next(_namespaces)}-"
    settings = SessionCacheConfig(namespace=namespace)
    if request.param == "memcached":
        memcached: MemcachedServer = request.getfixturevalue("memcached_server")
        yield BackendSpec("memcached", "Memcached", {"servers": memcached.address}, settings)
    elif request.param == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        yield BackendSpec("redis", "Redis", {"server": redis.address}, settings)
    elif request.param == "mariadb":
        mariadb: MariaDBServer = request.getfixturevalue("mariadb_server")
        yield BackendSpec("mariadb", "Sql", {"url": mariadb.url}, settings)
    else:
        yield BackendSpec("sqlite", "Sql", {"url": f"sqlite:///{tmp_path}/sessions.sqlite"}, settings)
