"""The SQL connection: URL with user and password, per-dialect settings, after-fork dispose."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.connections.sql import SqlConnection, async_url, engine_arguments
from mtpolicyd_core.errors import ConfigError
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool


def test_user_and_password_options_go_into_the_url() -> None:
    options = {"url": "mysql+pymysql://localhost/mail", "user": "mt", "password": "pw"}
    url = SqlConnection(ConnectionConfig("db", "Sql", options)).database_url
    assert (url.username, url.password, url.database) == ("mt", "pw", "mail")


def test_description_hides_the_password() -> None:
    options = {"url": "mysql+pymysql://mt:pw@localhost/mail"}
    assert "pw" not in SqlConnection(ConnectionConfig("db", "Sql", options)).describe()


def test_missing_url_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"mtpolicyd\.conf line 3: connection db \(Sql\): needs a dsn"):
        SqlConnection(ConnectionConfig("db", "Sql", {}, Location("mtpolicyd.conf", 3)))


def test_sqlite_waits_for_its_write_lock_and_shares_one_in_memory_database() -> None:
    assert engine_arguments(make_url("sqlite+aiosqlite:///x.sqlite"), 5.0) == {
        "connect_args": {"timeout": 5.0},
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": 5.0,
    }  # one connection per worker: SQLite takes one writer at a time
    assert engine_arguments(make_url("sqlite+aiosqlite://"), 5.0)["poolclass"] is StaticPool


def test_mariadb_checks_connections_and_times_out_connecting() -> None:
    arguments = engine_arguments(make_url("mysql+asyncmy://h/db"), 5.0)
    assert arguments["pool_pre_ping"] is True
    assert arguments["connect_args"]["connect_timeout"] == 5


@pytest.mark.parametrize(
    ("configured", "used"),
    [
        ("mysql+pymysql://h/db", "mysql+asyncmy"),
        ("mariadb+pymysql://h/db", "mariadb+asyncmy"),
        ("mysql://h/db", "mysql+asyncmy"),
        ("sqlite:///x.sqlite", "sqlite+aiosqlite"),
        ("postgresql://h/db", "postgresql+asyncpg"),
    ],
)
def test_engine_uses_the_asyncio_driver_of_the_configured_database(configured: str, used: str) -> None:
    assert async_url(make_url(configured)).drivername == used


async def test_handle_is_an_engine_that_a_new_worker_opens_again(tmp_path: Path) -> None:
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path}/db.sqlite"}))
    async with connection.transaction() as conn:
        assert (await conn.execute(sqlalchemy.text("SELECT 1"))).scalar() == 1
    parent_engine = connection.handle
    connection.reconnect()
    assert connection.handle is not parent_engine
    async with connection.transaction() as conn:
        assert (await conn.execute(sqlalchemy.text("SELECT 2"))).scalar() == 2
    await connection.aclose()
    await parent_engine.dispose()
