"""Quota: acts when a field's accounted metric in the current period reaches a threshold.

Placed right before the Accounting that counts its field (other Quota plugins may sit between), a
Quota counts the mail itself when it lets it pass, in one conditional UPDATE (``… WHERE metric < ?``):
N mails in parallel on several hosts cannot all read "below the limit" and all pass.
See docs/decisions/0012-quota-counts-at-admission.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from mtpolicyd_core.options import INT, STR, Option
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.accounting import METRIC_COLUMNS, Accounting, time_key
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.sql_tables import SqlTables, quote_identifier
from mtpolicyd_core.roles.switch import Switchable


class Quota(Switchable, SqlTables, NestedChain, Plugin):
    """Reads the Accounting table of ``field`` for the request's value in the current period
    and answers ``action`` when the ``metric`` column (count, count_rcpt, size, size_rcpt)
    is at or above ``threshold``.

    When the Accounting counting this field (same ``db``, ``table_prefix`` and ``time_pattern``)
    follows right after the Quota plugins, the check and the count are one statement: a quota
    of N lets exactly N mails through, however many hosts and workers check it at once.
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

    #: the Accounting that counts this quota's mails when they pass, if it follows right after
    accounting: Accounting | None = None

    def init(self) -> None:
        self.check_connections()

    def link_following(self, following: Sequence[Plugin]) -> list[str]:
        """Count at admission for the first Accounting after the Quota plugins, when it keeps our table."""
        for position, plugin in enumerate(following):
            if isinstance(plugin, Quota):
                continue
            if isinstance(plugin, Accounting) and self.same_table(plugin):
                self.accounting = plugin
                return []
            later = next(
                (
                    other
                    for other in following[position:]
                    if isinstance(other, Accounting) and self.same_table(other)
                ),
                None,
            )
            if later is not None:
                return [
                    f"Accounting {later.name} counts this quota's mails after other plugins ({plugin.name}):"
                    " mails checked at the same time may all pass the quota; put it right after the"
                    " Quota plugins to count each mail as it passes"
                ]
            return []
        return []

    def same_table(self, accounting: Accounting) -> bool:
        """Whether ``accounting`` keeps the table this quota reads (same database, prefix and period)."""
        return (
            accounting.db == self.db
            and accounting.table_prefix == self.table_prefix
            and accounting.time_pattern == self.time_pattern
            and self.field in accounting.field_list
        )

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
        threshold = perl_numify(self.get_uc(request, "threshold"))
        accounting = self.accounting
        if (
            accounting is not None
            and metric in METRIC_COLUMNS
            and math.isfinite(threshold)
            and accounting.counts_mail(request, field)
            and (field, key) not in {(row.field, row.key) for row in accounting.counted_rows(request)}
        ):
            if await accounting.count_if_below(request, field, key, metric, threshold):
                return []
            self.debug(request, f"quota of {field} {key} reached ({metric} >= {perl_str(threshold)})")
            results = await self.action_or_chain(request, self.get_uc(request, "action"))
            if any(result.abort for result in results):
                await accounting.give_back(request)  # what earlier quotas counted: the mail is refused
            return results
        # like the original, no row counts as 0
        count: float = await self.accounted(field, metric, key) or 0
        if accounting is not None:  # an earlier quota of this request counted the mail already
            count -= accounting.counted_value(request, field, key, metric)
        if count >= threshold:
            results = await self.action_or_chain(request, self.get_uc(request, "action"))
            if accounting is not None and any(result.abort for result in results):
                await accounting.give_back(request)
            return results
        return []
