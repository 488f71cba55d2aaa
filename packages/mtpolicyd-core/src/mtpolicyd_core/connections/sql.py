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
from mtpolicyd_core.connections.configured import (
    COUNT,
    SECONDS,
    ConfiguredConnection,
    ConnectionOptionError,
    connection_error,
)
from mtpolicyd_core.options import STR, Option, maybe
from mtpolicyd_core.runtime.optional import EXTRAS, import_extra

#: seconds to connect, to wait for an answer or for SQLite's write lock: far below the request timeout
DEFAULT_TIMEOUT = 5.0
#: connections a worker keeps open, and how many more it may open at busy times (MariaDB, MySQL …):
#: 25 workers (max_servers) x 5 stay below MariaDB's default max_connections of 151 per host
DEFAULT_POOL_SIZE = 3
DEFAULT_MAX_OVERFLOW = 2
#: seconds after which a pooled connection is replaced (below MariaDB's wait_timeout of 8 hours)
DEFAULT_POOL_RECYCLE = 3600
#: database backend → the asyncio driver its engine uses
ASYNC_DRIVERS = {"mysql": "asyncmy", "mariadb": "asyncmy", "sqlite": "aiosqlite", "postgresql": "asyncpg"}


def engine_url(config: ConnectionConfig) -> URL:
    """The SQLAlchemy URL: option ``url`` (translated from a Perl ``dsn``) with ``user``/``password``."""
    url_text = config.options.get("url")
    if not url_text:
        raise connection_error(config, "needs a dsn (or url)")
    try:
        url = make_url(url_text)
    except (ValueError, sqlalchemy.exc.ArgumentError) as error:
        raise connection_error(config, f"cannot read url {url_text!r}: {error}", "url") from None
    if config.options.get("user"):
        url = url.set(username=config.options["user"])
    if config.options.get("password"):
        url = url.set(password=config.options["password"])
    return url


def async_url(url: URL) -> URL:
    """The same database through its asyncio driver (``mysql+pymysql`` → ``mysql+asyncmy`` …)."""
    driver = ASYNC_DRIVERS.get(url.get_backend_name())
    return url if driver is None else url.set(drivername=f"{url.get_backend_name()}+{driver}")


def engine_arguments(
    url: URL,
    timeout: float,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    pool_recycle: int = DEFAULT_POOL_RECYCLE,
) -> dict[str, Any]:
    """Per-dialect engine settings: timeouts, one shared in-memory SQLite, pool sizes, liveness checks.

    A pooled connection is pinged before use (``pool_pre_ping``): after a database restart the
    first request of a worker reconnects instead of failing on a dead connection.
    """
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
    pool = {
        "pool_pre_ping": True,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": timeout,
        "pool_recycle": pool_recycle,
    }
    if url.get_backend_name() in ("mysql", "mariadb"):
        return {**pool, "connect_args": {"connect_timeout": max(1, int(timeout))}}
    return pool


def concurrent_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead log: readers never wait for the writer, and commits need no full sync."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqlConnection(ConfiguredConnection):
    """A database through SQLAlchemy's asyncio engine: a pool of connections per worker."""

    module = "Sql"
    derived_options = ("url",)

    dsn = Option(
        maybe(STR),
        doc="Perl DBI data source (`dbi:mysql:database=mtpolicyd;host=db`,"
        " `dbi:SQLite:dbname=/var/lib/x.db`), translated to a SQLAlchemy URL",
    )
    url = Option(maybe(STR), doc="ours: a SQLAlchemy URL instead of `dsn`")
    user = Option(STR, default="", doc="database user")
    password = Option(STR, default="", doc="database password")
    namespace = Option(STR, default="", doc="ours: prefix of session and lock keys in the session table")
    timeout = Option(
        SECONDS,
        default=str(int(DEFAULT_TIMEOUT)),
        doc="ours: seconds to connect, for each statement, for a pooled connection and for"
        " SQLite's write lock",
    )
    pool_size = Option(
        COUNT,
        default=str(DEFAULT_POOL_SIZE),
        doc="ours: connections each worker keeps open (SQLite: always 1). Each host opens at most"
        " max_servers x (pool_size + max_overflow): keep the sum over all hosts below the server's"
        " max_connections",
    )
    max_overflow = Option(
        COUNT,
        default=str(DEFAULT_MAX_OVERFLOW),
        doc="ours: connections a worker may open beyond pool_size when busy",
    )
    pool_recycle = Option(
        COUNT,
        default=str(DEFAULT_POOL_RECYCLE),
        doc="ours: seconds after which a pooled connection is replaced (below the server's wait_timeout)",
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        #: the database to use: `url` (or the translated `dsn`) with `user` and `password`
        self.database_url = engine_url(config)
        driver = async_url(self.database_url).get_driver_name()
        if driver in EXTRAS:
            import_extra(driver, f"connection {config.name} (module Sql, {driver})", config.location)
        self._engine: AsyncEngine | None = None

    def check(self) -> None:
        if self.pool_size + self.max_overflow == 0:
            raise ConnectionOptionError("pool_size", "pool_size and max_overflow cannot both be 0")

    @property
    def connections_per_worker(self) -> int:
        """The most connections one worker opens to the database."""
        return 1 if self.database_url.get_backend_name() == "sqlite" else self.pool_size + self.max_overflow

    def describe(self) -> str:
        """``sql NAME (url without password)`` for error messages."""
        return f"sql {self.name} ({self.database_url.render_as_string(hide_password=True)})"

    @property
    def handle(self) -> AsyncEngine:
        """The engine (a pool of connections, opened on use in the running event loop)."""
        if self._engine is None:
            url = async_url(self.database_url)
            arguments = engine_arguments(
                url, float(self.timeout), self.pool_size, self.max_overflow, self.pool_recycle
            )
            self._engine = create_async_engine(url, **arguments)
            if url.get_backend_name() == "sqlite":
                sqlalchemy.event.listen(self._engine.sync_engine, "connect", concurrent_sqlite)
        return self._engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in a transaction, committed at the end; all of it within ``timeout``."""
        async with asyncio.timeout(float(self.timeout)), self.handle.begin() as connection:
            yield connection

    def reconnect(self) -> None:
        """After fork: forget the parent's engine (its pooled connections are the parent's)."""
        self._engine = None

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()
