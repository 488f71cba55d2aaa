"""The SQL connection: URL with user and password, per-dialect settings, after-fork dispose."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.connections.sql import SqlConnection, engine_arguments
from mtpolicyd_core.errors import ConfigError
from sqlalchemy.engine import make_url


def test_user_and_password_options_go_into_the_url() -> None:
    options = {"url": "mysql+pymysql://localhost/mail", "user": "mt", "password": "pw"}
    url = SqlConnection(ConnectionConfig("db", "Sql", options)).url
    assert (url.username, url.password, url.database) == ("mt", "pw", "mail")


def test_description_hides_the_password() -> None:
    options = {"url": "mysql+pymysql://mt:pw@localhost/mail"}
    assert "pw" not in SqlConnection(ConnectionConfig("db", "Sql", options)).describe()


def test_missing_url_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"mtpolicyd\.conf line 3: connection db: Sql needs a dsn"):
        SqlConnection(ConnectionConfig("db", "Sql", {}, Location("mtpolicyd.conf", 3)))


def test_sqlite_is_usable_from_any_thread_and_waits_for_its_lock() -> None:
    arguments = engine_arguments(make_url("sqlite:///x.sqlite"), 5.0)
    assert arguments["connect_args"] == {"check_same_thread": False, "timeout": 5.0}


def test_mariadb_checks_connections_and_times_out() -> None:
    arguments = engine_arguments(make_url("mysql+pymysql://h/db"), 5.0)
    assert arguments["pool_pre_ping"] is True
    assert arguments["connect_args"]["read_timeout"] == 5


def test_handle_is_an_engine_that_survives_reconnect(tmp_path: Path) -> None:
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path}/db.sqlite"}))
    with connection.handle.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
    connection.reconnect()
    with connection.handle.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
    connection.close()
