"""``<Connection> module = "Sql"``: a SQLAlchemy asyncio engine (MariaDB/MySQL via asyncmy, SQLite via
aiosqlite, …). Configured URLs name the synchronous drivers (as a translated Perl DSN does); the
engine uses the asyncio driver of the same database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.optional import EXTRAS, import_extra

#: seconds to connect, to wait for an answer or for SQLite's write lock: far below the request timeout
DEFAULT_TIMEOUT = 5.0
#: database backend → the asyncio driver its engine uses
ASYNC_DRIVERS = {"mysql": "asyncmy", "mariadb": "asyncmy", "sqlite": "aiosqlite", "postgresql": "asyncpg"}


def engine_url(config: ConnectionConfig) -> URL:
    """The SQLAlchemy URL: option ``url`` (translated from a Perl ``dsn``) with ``user``/``password``."""
    url_text = config.options.get("url")
    if not url_text:
        where = config.location
        raise ConfigError(
            f"connection {config.name}: Sql needs a dsn (or url)",
            where.file if where else None,
            where.line if where else None,
        )
    url = make_url(url_text)
    if config.options.get("user"):
        url = url.set(username=config.options["user"])
    if config.options.get("password"):
        url = url.set(password=config.options["password"])
    return url


def async_url(url: URL) -> URL:
    """The same database through its asyncio driver (``mysql+pymysql`` → ``mysql+asyncmy`` …)."""
    driver = ASYNC_DRIVERS.get(url.get_backend_name())
    return url if driver is None else url.set(drivername=f"{url.get_backend_name()}+{driver}")


def engine_arguments(url: URL, timeout: float) -> dict[str, Any]:
    """Per-dialect engine settings: timeouts, one shared in-memory SQLite, MariaDB liveness checks."""
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):  # every use must see the one in-memory database
            return {"connect_args": {"timeout": timeout}, "poolclass": StaticPool}
        # SQLite takes one writer at a time: one connection per worker queues the worker's requests
        # in order, instead of many connections polling the file lock with SQLite's coarse sleeps
        return {
            "connect_args": {"timeout": timeout},
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": timeout,
        }
    if url.get_backend_name() in ("mysql", "mariadb"):
        seconds = max(1, int(timeout))
        return {"pool_pre_ping": True, "pool_recycle": 3600, "connect_args": {"connect_timeout": seconds}}
    return {"pool_pre_ping": True}


def concurrent_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead log: readers never wait for the writer, and commits need no full sync."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqlConnection:
    """Options ``url`` (or Perl ``dsn``, translated), ``user``, ``password``, ``timeout`` (seconds)."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.name = config.name
        self.url = engine_url(config)
        driver = async_url(self.url).get_driver_name()
        if driver in EXTRAS:
            import_extra(driver, f"connection {config.name} (module Sql, {driver})", config.location)
        self.timeout = float(config.options.get("timeout", DEFAULT_TIMEOUT))
        self._engine: AsyncEngine | None = None

    def describe(self) -> str:
        """``sql NAME (url without password)`` for error messages."""
        return f"sql {self.name} ({self.url.render_as_string(hide_password=True)})"

    @property
    def handle(self) -> AsyncEngine:
        """The engine (a pool of connections, opened on use in the running event loop)."""
        if self._engine is None:
            url = async_url(self.url)
            self._engine = create_async_engine(url, **engine_arguments(url, self.timeout))
            if url.get_backend_name() == "sqlite":
                sqlalchemy.event.listen(self._engine.sync_engine, "connect", concurrent_sqlite)
        return self._engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in a transaction, committed at the end; all of it within ``timeout``."""
        async with asyncio.timeout(self.timeout), self.handle.begin() as connection:
            yield connection

    def reconnect(self) -> None:
        """After fork: forget the parent's engine (its pooled connections are the parent's)."""
        self._engine = None

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()
