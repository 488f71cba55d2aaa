"""Accounting: per-period counters of mails and sizes by request field, in ``acct_<field>`` tables.

A Quota right before the Accounting that counts its field (docs/decisions/0012-quota-counts-at-admission.md)
counts the mail itself, in one conditional statement, when it lets it pass; Accounting then leaves that
row alone for this mail. So parallel mails on several hosts cannot all pass a quota they share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.exc import IntegrityError

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.sql_tables import SqlTables, TableDefinition, dbi_driver, quote_identifier
from mtpolicyd_core.roles.switch import Switchable

#: The columns counted per key and period.
Metrics = dict[str, int | float | None]
#: the columns a Quota may compare
METRIC_COLUMNS = ("count", "count_rcpt", "size", "size_rcpt")
#: ``Request.notes`` key: the rows Quota plugins counted for an Accounting during this request
COUNTED_NOTE = "accounting-counted-by-quota"


@dataclass(frozen=True)
class CountedRow:
    """What a Quota added for one mail: to be skipped by Accounting, or given back if the mail is refused."""

    accounting: str
    field: str
    key: str
    period: str
    metrics: tuple[tuple[str, int | float | None], ...]


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
        counted = {(row.field, row.key) for row in self.counted_rows(request)}
        request.notes.pop(COUNTED_NOTE, None)
        for field in self.field_list:
            key = request.attr(field)
            if key is None or key.strip() == "":
                self.debug(request, f"{field} not defined in request, skipping...")
                continue
            if (field, key) in counted:
                self.debug(request, f"accounting info for {field} {key} already updated by the quota check")
                continue
            self.debug(request, f"updating accounting info for {field} {key}")
            await self.update_accounting(field, key, metrics)
        return []

    # -- counting on behalf of a Quota (decision 0012) ----------------------------------

    def counts_mail(self, request: Request, field: str) -> bool:
        """Whether this plugin will count the request's mail by ``field`` when the chain reaches it."""
        if field not in self.field_list or self.is_switched_off(request):
            return False
        session = request.session
        already = session is not None and request.use_caching and session.get(f"{self.name}-acct") is not None
        return not already

    def counted_rows(self, request: Request) -> list[CountedRow]:
        """The rows Quota plugins counted for this Accounting during this request."""
        rows: list[CountedRow] = request.notes.get(COUNTED_NOTE, [])
        return [row for row in rows if row.accounting == self.name]

    def counted_value(self, request: Request, field: str, key: str, metric: str) -> float:
        """What Quota plugins of this request added to ``metric`` of the row of ``key``."""
        return sum(
            perl_numify(dict(row.metrics).get(metric))
            for row in self.counted_rows(request)
            if (row.field, row.key) == (field, key)
        )

    async def count_if_below(
        self, request: Request, field: str, key: str, metric: str, threshold: float
    ) -> bool:
        """Add the mail to the row of ``key`` only while ``metric`` is below ``threshold``, in one statement.

        True when it was added (the mail passes the quota); the row is then noted for :meth:`run`
        to skip and for :meth:`give_back`. A row that does not exist yet counts as 0, as in Quota.
        """
        metrics = request_metrics(request)
        period = time_key(self.time_pattern)
        added = await self.update_row(field, key, metrics, period, below=(metric, threshold))
        if not added and threshold > 0 and not await self.row_exists(field, key, period):
            try:
                await self.insert_row(field, key, metrics, period)
                added = True
            except IntegrityError:  # another host created the row meanwhile: count against it
                added = await self.update_row(field, key, metrics, period, below=(metric, threshold))
        if added:
            row = CountedRow(self.name, field, key, period, tuple(metrics.items()))
            request.notes.setdefault(COUNTED_NOTE, []).append(row)
        return added

    async def give_back(self, request: Request) -> None:
        """Take back what Quota plugins counted during this request: a later quota refused the mail."""
        for row in self.counted_rows(request):
            negative = {column: None if value is None else -value for column, value in row.metrics}
            await self.update_row(row.field, row.key, negative, row.period)
        request.notes.pop(COUNTED_NOTE, None)

    # -- statements ---------------------------------------------------------------------

    async def update_accounting(self, field: str, key: str, metrics: Metrics) -> None:
        """Add the metrics to the row of this key and period, creating it when missing."""
        period = time_key(self.time_pattern)
        if await self.update_row(field, key, metrics, period):
            return
        try:
            await self.insert_row(field, key, metrics, period)
        except IntegrityError:  # another worker created the row meanwhile
            if not await self.update_row(field, key, metrics, period):
                raise

    async def update_row(
        self,
        field: str,
        key: str,
        metrics: Metrics,
        period: str,
        below: tuple[str, float] | None = None,
    ) -> bool:
        """Add to an existing row (only while column ``below[0]`` < ``below[1]``); False if none changed."""
        engine = self.db_engine
        columns = list(metrics)
        assignments = ", ".join(
            f"{quote_identifier(engine, column)}={quote_identifier(engine, column)}+?" for column in columns
        )
        sql = (
            f"UPDATE {quote_identifier(engine, self.table_name(field))} SET {assignments}"
            f" WHERE {quote_identifier(engine, 'key')}=? AND {quote_identifier(engine, 'time')}=?"
        )
        values: list[object] = [metrics[column] for column in columns]
        values += [key, period]
        if below is not None:
            column, threshold = below
            sql += f" AND {quote_identifier(engine, column)}<?"
            values.append(_number(float(threshold)))
        return (await self.execute_sql(sql, *values)).rowcount > 0

    async def row_exists(self, field: str, key: str, period: str) -> bool:
        """Whether this key has a row in this period."""
        engine = self.db_engine
        sql = (
            f"SELECT 1 FROM {quote_identifier(engine, self.table_name(field))}"
            f" WHERE {quote_identifier(engine, 'key')}=? AND {quote_identifier(engine, 'time')}=?"
        )
        return (await self.execute_sql(sql, key, period)).first_row is not None

    async def insert_row(self, field: str, key: str, metrics: Metrics, period: str) -> None:
        """The first row of this key and period.

        The original's MySQL table has a unique key on (key, time): a second host inserting the
        same row gets IntegrityError. Its SQLite table has none: there the row is added only
        while none exists, in one statement (SQLite runs one writer at a time).
        """
        engine = self.db_engine
        values = {"key": key, "time": period, **metrics}
        columns = ", ".join(quote_identifier(engine, column) for column in values)
        placeholders = ", ".join("?" for _ in values)
        table = quote_identifier(engine, self.table_name(field))
        if dbi_driver(engine) != "SQLite":
            await self.execute_sql(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", *values.values()
            )
            return
        absent = (
            f"NOT EXISTS (SELECT 1 FROM {table}"
            f" WHERE {quote_identifier(engine, 'key')}=? AND {quote_identifier(engine, 'time')}=?)"
        )
        sql = f"INSERT INTO {table} ({columns}) SELECT {placeholders} WHERE {absent}"
        if (await self.execute_sql(sql, *values.values(), key, period)).rowcount == 0:
            raise IntegrityError(sql, None, Exception(f"row of {key} in {period} exists"))
