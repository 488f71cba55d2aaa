"""``<Connection> module = "Sql"``: a SQLAlchemy Engine (MariaDB/MySQL via PyMySQL, SQLite, …)."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.errors import ConfigError

#: seconds to connect, to wait for an answer or for SQLite's write lock: far below the request timeout
DEFAULT_TIMEOUT = 5.0


def engine_url(config: ConnectionConfig) -> URL:
    """The SQLAlchemy URL: option ``url`` (translated from a Perl ``dsn``) with ``user``/``password``."""
    url_text = config.options.get("url")
    if not url_text:
        where = config.location
        raise ConfigError(f"connection {config.name}: Sql needs a dsn (or url)",
                          where.file if where else None, where.line if where else None)
    url = make_url(url_text)
    if config.options.get("user"):
        url = url.set(username=config.options["user"])
    if config.options.get("password"):
        url = url.set(password=config.options["password"])
    return url


def engine_arguments(url: URL, timeout: float) -> dict[str, Any]:
    """Per-dialect engine settings: timeouts, SQLite across threads, MariaDB liveness checks."""
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"check_same_thread": False, "timeout": timeout}}
    if url.get_backend_name() in ("mysql", "mariadb"):
        seconds = max(1, int(timeout))
        timeouts = {"connect_timeout": seconds, "read_timeout": seconds, "write_timeout": seconds}
        return {"pool_pre_ping": True, "pool_recycle": 3600, "connect_args": timeouts}
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
        self.timeout = float(config.options.get("timeout", DEFAULT_TIMEOUT))
        self._engine: Engine | None = None

    def describe(self) -> str:
        """``sql NAME (url without password)`` for error messages."""
        return f"sql {self.name} ({self.url.render_as_string(hide_password=True)})"

    @property
    def handle(self) -> Engine:
        """The engine (a pool of DB-API connections, opened on use)."""
        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.url, **engine_arguments(self.url, self.timeout))
            if self.url.get_backend_name() == "sqlite":
                sqlalchemy.event.listen(self._engine, "connect", concurrent_sqlite)
        return self._engine

    def reconnect(self) -> None:
        """After fork: forget the parent's pooled connections without closing them under it."""
        if self._engine is not None:
            self._engine.dispose(close=False)

    def close(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
