"""Perl DBI data source names (``dbi:mysql:mail``) as SQLAlchemy URLs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

_DSN = re.compile(r"dbi:(\w+)(?:\(.*?\))?:(.*)", re.IGNORECASE | re.DOTALL)

#: DBI driver name → SQLAlchemy dialect+driver
DRIVERS: dict[str, str] = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
    "pg": "postgresql",
}

_DATABASE_KEYS = {"database", "db", "dbname"}
_HOST_KEYS = {"host", "hostname"}


def dsn_to_url(dsn: str, user: str = "", password: str = "") -> URL:
    """The SQLAlchemy URL for a DBI ``dsn``; ValueError names what is wrong with it."""
    from sqlalchemy.engine import URL  # noqa: PLC0415 - SQLAlchemy only for configs with SQL

    match = _DSN.fullmatch(dsn.strip())
    if match is None:
        raise ValueError(f"{dsn!r} is not a Perl DBI data source (dbi:DRIVER:…)")
    driver, rest = match.group(1), match.group(2)
    dialect = DRIVERS.get(driver.lower())
    if dialect is None:
        raise ValueError(f"unsupported DBI driver {driver} in {dsn!r} (known: mysql, MariaDB, SQLite, Pg)")
    username, secret = user or None, password or None
    if dialect == "sqlite":
        return URL.create(dialect, database=_sqlite_database(rest) or ":memory:")
    fields = _server_fields(rest)
    port_text = fields.pop("port", None)
    if port_text is not None and not port_text.isdigit():
        raise ValueError(f"port {port_text!r} in {dsn!r} is not a number")
    query = {"unix_socket": fields["mysql_socket"]} if "mysql_socket" in fields else {}
    return URL.create(
        dialect,
        username=username,
        password=secret,
        host=fields.get("host") or None,
        port=int(port_text) if port_text else None,
        database=fields.get("database") or None,
        query=query,
    )


def _sqlite_database(rest: str) -> str:
    """DBD::SQLite: the whole rest is the file, unless it has ``dbname=…`` style fields."""
    if "=" not in rest:
        return rest
    database = ""
    for field in rest.split(";"):
        key, _, value = field.partition("=")
        if key in _DATABASE_KEYS:
            database = value
    return database


def _server_fields(rest: str) -> dict[str, str]:
    """DBD::mysql style ``a=b;c=d`` or positional ``database:host:port`` fields."""
    fields: dict[str, str] = {}
    positional = ["database", "host", "port"]
    for part in re.split(r"[:;]", rest) if rest else []:
        key, equals, value = part.partition("=")
        if equals:
            name = "host" if key in _HOST_KEYS else "database" if key in _DATABASE_KEYS else key
            fields[name] = value
            continue
        for name in positional:
            if name not in fields:
                fields[name] = part
                break
    return fields
