"""Accounting: per-period counters of mails and sizes by request field, in ``acct_<field>`` tables."""

from __future__ import annotations

import time
from functools import cached_property

from sqlalchemy.exc import IntegrityError

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.sql_tables import SqlTables, TableDefinition, quote_identifier
from mtpolicyd_core.roles.switch import Switchable

#: The columns counted per key and period.
Metrics = dict[str, int | float | None]

ACCOUNTING_TABLE: TableDefinition = {
    "mysql": """CREATE TABLE %TABLE_NAME% (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `key` VARCHAR(255) NOT NULL,
    `time` VARCHAR(255) NOT NULL,
    `count` INT UNSIGNED NOT NULL,
    `count_rcpt` INT UNSIGNED NOT NULL,
    `size` INT UNSIGNED NOT NULL,
    `size_rcpt` INT UNSIGNED NOT NULL,
    PRIMARY KEY (`id`),
    UNIQUE KEY `time_key` (`key`, `time`),
    KEY(`key`),
    KEY(`time`)
  ) ENGINE=%MYSQL_ENGINE%  DEFAULT CHARSET=latin1""",
    "SQLite": """CREATE TABLE %TABLE_NAME% (
    `id` INTEGER PRIMARY KEY AUTOINCREMENT,
    `key` VARCHAR(255) NOT NULL,
    `time` VARCHAR(255) NOT NULL,
    `count` INT UNSIGNED NOT NULL,
    `count_rcpt` INT UNSIGNED NOT NULL,
    `size` INT UNSIGNED NOT NULL,
    `size_rcpt` INT UNSIGNED NOT NULL
)""",
}


def time_key(pattern: str) -> str:
    """The accounting period of now in local time, as ``strftime(pattern)``."""
    return time.strftime(pattern, time.localtime())


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def request_metrics(request: Request) -> Metrics:
    """What one mail adds: 1 mail, its recipients, its size and size times recipients."""
    recipient_count = request.attr("recipient_count")
    size = request.attr("size")
    recipients = "1" if recipient_count is None else recipient_count
    has_recipients = perl_true(recipients)
    size_rcpt: int | float | None
    if has_recipients:
        size_rcpt = _number(perl_numify(size) * perl_numify(recipients))
    else:  # the original keeps the raw size here, undefined (NULL) when the request had none
        size_rcpt = None if size is None else _number(perl_numify(size))
    return {
        "count": 1,
        "count_rcpt": _number(perl_numify(recipients)) if has_recipients else 1,
        "size": 0 if size is None else _number(perl_numify(size)),
        "size_rcpt": size_rcpt,
    }


class Accounting(Switchable, SqlTables, Plugin):
    """Counts each mail once into ``<table_prefix><field>`` for every field in ``fields``: one row
    per field value and period (``time_pattern``) with the columns count, count_rcpt, size
    and size_rcpt. Tables are created at start-up when missing. Quota reads them.
    """

    fields = Option(STR, required=True, doc="comma-separated request attributes to account by")
    time_pattern = Option(STR, default="%Y-%m", doc="strftime pattern of the accounting period")
    table_prefix = Option(STR, default="acct_", doc="prefix of the table names")

    @cached_property
    def field_list(self) -> list[str]:
        """The accounted request attributes."""
        return comma_list(self.fields)

    def table_name(self, field: str) -> str:
        """The table accounting by ``field``."""
        return f"{self.table_prefix}{field}"

    def init(self) -> None:
        self.check_connections()

    async def startup(self) -> None:
        await self.check_sql_tables({self.table_name(field): ACCOUNTING_TABLE for field in self.field_list})

    async def run(self, request: Request) -> list[PluginResult]:
        if request.is_already_done(f"{self.name}-acct"):
            self.debug(request, "accounting already done for this mail, skipping...")
            return []
        metrics = request_metrics(request)
        for field in self.field_list:
            key = request.attr(field)
            if key is None or key.strip() == "":
                self.debug(request, f"{field} not defined in request, skipping...")
                continue
            self.debug(request, f"updating accounting info for {field} {key}")
            await self.update_accounting(field, key, metrics)
        return []

    async def update_accounting(self, field: str, key: str, metrics: Metrics) -> None:
        """Add the metrics to the row of this key and period, creating it when missing."""
        if await self.update_row(field, key, metrics):
            return
        try:
            await self.insert_row(field, key, metrics)
        except IntegrityError:  # another worker created the row meanwhile
            if not await self.update_row(field, key, metrics):
                raise

    async def update_row(self, field: str, key: str, metrics: Metrics) -> bool:
        """Add to an existing row; False when there is none."""
        engine = self.db_engine
        columns = list(metrics)
        assignments = ", ".join(
            f"{quote_identifier(engine, column)}={quote_identifier(engine, column)}+?" for column in columns
        )
        sql = (
            f"UPDATE {quote_identifier(engine, self.table_name(field))} SET {assignments}"
            f" WHERE {quote_identifier(engine, 'key')}=? AND {quote_identifier(engine, 'time')}=?"
        )
        values = [metrics[column] for column in columns]
        return (await self.execute_sql(sql, *values, key, time_key(self.time_pattern))).rowcount > 0

    async def insert_row(self, field: str, key: str, metrics: Metrics) -> None:
        """The first row of this key and period."""
        engine = self.db_engine
        values = {"key": key, "time": time_key(self.time_pattern), **metrics}
        columns = ", ".join(quote_identifier(engine, column) for column in values)
        placeholders = ", ".join("?" for _ in values)
        table = quote_identifier(engine, self.table_name(field))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        await self.execute_sql(sql, *values.values())
