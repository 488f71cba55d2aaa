"""Perl DBI data source names become SQLAlchemy URLs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.config.dsn import dsn_to_url
from sqlalchemy.engine import make_url


@pytest.mark.parametrize(
    ("dsn", "url"),
    [
        ("dbi:mysql:mail", "mysql+pymysql:///mail"),
        ("DBI:mysql:database=x;host=y;port=3307", "mysql+pymysql://y:3307/x"),
        ("dbi:mysql:dbname=x;hostname=db.example.org", "mysql+pymysql://db.example.org/x"),
        ("dbi:mysql:mail:dbhost:3306", "mysql+pymysql://dbhost:3306/mail"),
        (
            "dbi:mysql:database=x;mysql_socket=/run/mysqld/mysqld.sock",
            "mysql+pymysql:///x?unix_socket=%2Frun%2Fmysqld%2Fmysqld.sock",
        ),
        ("dbi:MariaDB:database=x", "mysql+pymysql:///x"),
        (
            "dbi:SQLite:dbname=/var/lib/mtpolicyd/mtpolicyd.sqlite",
            "sqlite:////var/lib/mtpolicyd/mtpolicyd.sqlite",
        ),
        ("dbi:SQLite:/tmp/x.db", "sqlite:////tmp/x.db"),
        ("dbi:SQLite:relative.db", "sqlite:///relative.db"),
        ("dbi:Pg:dbname=mail;host=pg", "postgresql://pg/mail"),
        ("dbi:mysql(RaiseError=1):mail", "mysql+pymysql:///mail"),
    ],
)
def test_dsn_translates_to_url(dsn: str, url: str) -> None:
    assert dsn_to_url(dsn).render_as_string(hide_password=False) == url


@pytest.mark.parametrize("dsn", ["dbi:SQLite::memory:", "dbi:SQLite:dbname=", "dbi:SQLite:"])
def test_sqlite_memory_and_empty_name_mean_an_in_memory_database(dsn: str) -> None:
    assert make_url(dsn_to_url(dsn).render_as_string(hide_password=False)).database == ":memory:"


def test_user_and_password_are_url_encoded() -> None:
    url = dsn_to_url("dbi:mysql:database=mail;host=db", "mt", "p@ss:w/rd%")
    text = url.render_as_string(hide_password=False)
    assert text == "mysql+pymysql://mt:p%40ss%3Aw%2Frd%25@db/mail"
    assert (make_url(text).username, make_url(text).password) == ("mt", "p@ss:w/rd%")


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("dbi:Oracle:x", "unsupported DBI driver Oracle"),
        ("mysql:mail", "is not a Perl DBI data source"),
        ("dbi:mysql:database=x;port=abc", "port 'abc'"),
    ],
)
def test_bad_dsn_is_refused_with_reason(dsn: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dsn_to_url(dsn)


_names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20)


@given(user=_names, password=_names)
def test_any_credentials_survive_the_url(user: str, password: str) -> None:
    url = make_url(dsn_to_url("dbi:mysql:database=mail;host=db", user, password).render_as_string(False))
    assert (url.username, url.password, url.database, url.host) == (user, password, "mail", "db")


@given(st.text(max_size=40))
def test_any_text_translates_or_raises_value_error(dsn: str) -> None:
    with contextlib.suppress(ValueError):
        dsn_to_url("dbi:" + dsn)
