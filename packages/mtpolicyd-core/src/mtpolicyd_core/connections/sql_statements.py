"""SQL written for Perl DBI (``?`` placeholders) run through a SQLAlchemy engine.

Admins' configured queries use DBI's ``?`` placeholders; drivers differ (SQLite
takes ``?``, PyMySQL ``%s``), so placeholders outside quotes and comments are
rewritten to the engine's parameter style and the values bound, never pasted in.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtpolicyd_core.connections.sql import SqlConnection

_QUOTES = "'\"`"


def _skip_quoted(sql: str, start: int) -> int:
    """Index just after the quoted string/identifier opening at ``start`` (doubled or escaped quotes kept)."""
    quote = sql[start]
    index = start + 1
    while index < len(sql):
        char = sql[index]
        if char == "\\" and quote != "`":
            index += 2
            continue
        if char == quote:
            if sql.startswith(quote, index + 1):
                index += 2
                continue
            return index + 1
        index += 1
    return index


def _skip_comment(sql: str, start: int) -> int:
    """Index just after a ``--``, ``#`` or ``/* */`` comment opening at ``start``, else ``start``."""
    if sql.startswith("/*", start):
        end = sql.find("*/", start + 2)
        return len(sql) if end < 0 else end + 2
    if sql.startswith("--", start) or sql[start] == "#":
        end = sql.find("\n", start)
        return len(sql) if end < 0 else end + 1
    return start


def translate_placeholders(sql: str, paramstyle: str) -> str:
    """Rewrite DBI ``?`` placeholders for a DB-API ``paramstyle`` (qmark, format, pyformat, numeric)."""
    if paramstyle == "qmark":
        return sql
    if paramstyle not in ("format", "pyformat", "numeric"):
        raise ValueError(f"unsupported SQL parameter style {paramstyle}")
    out: list[str] = []
    index = 0
    number = 0
    while index < len(sql):
        char = sql[index]
        end = _skip_quoted(sql, index) if char in _QUOTES else _skip_comment(sql, index)
        if end > index:
            chunk = sql[index:end]
            out.append(chunk.replace("%", "%%") if paramstyle != "numeric" else chunk)
            index = end
            continue
        if char == "?":
            number += 1
            out.append(f":{number}" if paramstyle == "numeric" else "%s")
        elif char == "%" and paramstyle != "numeric":
            out.append("%%")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def session_value(value: Any) -> Any:
    """A column value as the session (JSON) can keep it: numbers and text stay, the rest becomes text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value)


class SqlResult:
    """What a statement gave: its first row (by position and by column name) and the affected row count."""

    def __init__(self, columns: Sequence[str], first_row: Sequence[Any] | None, rowcount: int) -> None:
        self.columns = list(columns)
        self.first_row = None if first_row is None else [session_value(value) for value in first_row]
        self.rowcount = rowcount

    def first_mapping(self) -> Mapping[str, Any] | None:
        """The first row as column name → value, or None without rows."""
        if self.first_row is None:
            return None
        return dict(zip(self.columns, self.first_row, strict=False))


async def execute_sql(connection: SqlConnection, sql: str, params: Sequence[Any] = ()) -> SqlResult:
    """Run one DBI-style statement with bound ``?`` parameters and commit it, within the
    connection's ``timeout`` (a stopped database server costs a request no more)."""
    statement = translate_placeholders(sql, connection.handle.dialect.paramstyle) if params else sql
    async with connection.transaction() as session:
        if params:
            result = await session.exec_driver_sql(statement, tuple(params))
        else:
            result = await session.exec_driver_sql(statement)
        if not result.returns_rows:
            return SqlResult([], None, result.rowcount)
        row = result.fetchone()
        columns = list(result.keys())
        result.close()
        return SqlResult(columns, None if row is None else tuple(row), result.rowcount)
