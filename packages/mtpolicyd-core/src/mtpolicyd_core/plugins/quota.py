"""Quota: acts when a field's accounted metric in the current period reaches a threshold."""

from __future__ import annotations

import re

from mtpolicyd_core.options import INT, STR, Option
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.accounting import time_key
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.sql_tables import SqlTables, quote_identifier
from mtpolicyd_core.roles.switch import Switchable


class Quota(Switchable, SqlTables, NestedChain, Plugin):
    """Reads the Accounting table of ``field`` for the request's value in the current period
    and answers ``action`` when the ``metric`` column (count, count_rcpt, size, size_rcpt)
    is at or above ``threshold``.
    """

    field = Option(STR, required=True, user_config=True, doc="request attribute accounted by Accounting")
    metric = Option(
        STR, required=True, user_config=True, doc="column compared: count, count_rcpt, size, size_rcpt"
    )
    time_pattern = Option(STR, default="%Y-%m", doc="strftime pattern of the period, as in Accounting")
    threshold = Option(
        INT, required=True, user_config=True, doc="limit; reached when the metric is >= threshold"
    )
    action = Option(
        STR,
        default="defer smtp traffic quota has been exceeded",
        user_config=True,
        doc="action answered when the quota is reached",
    )
    table_prefix = Option(STR, default="acct_", doc="prefix of the Accounting tables")

    def init(self) -> None:
        self.check_connections()

    async def accounted(self, field: str, metric: str, key: str) -> int | None:
        """The metric of this key in the current period; None without a (numeric) value."""
        engine = self.db_engine
        table = quote_identifier(engine, self.table_prefix + field)
        sql = (
            f"SELECT {quote_identifier(engine, metric)} FROM {table}"
            f" WHERE {quote_identifier(engine, 'key')}=? AND {quote_identifier(engine, 'time')}=?"
        )
        row = (await self.execute_sql(sql, key, time_key(self.time_pattern))).first_row
        if row is None or row[0] is None or not re.fullmatch(r"\d+\n?", perl_str(row[0])):
            return None
        return int(perl_str(row[0]))

    async def run(self, request: Request) -> list[PluginResult]:
        field = perl_str(self.get_uc(request, "field"))
        metric = perl_str(self.get_uc(request, "metric"))
        key = request.attr(field)
        if key is None or key.strip() == "":
            self.debug(request, f"field {field} is empty in request. skipping quota check.")
            return []
        count = await self.accounted(field, metric, key)
        # like the original, no row counts as 0
        if (count or 0) >= perl_numify(self.get_uc(request, "threshold")):
            return await self.action_or_chain(request, self.get_uc(request, "action"))
        return []
