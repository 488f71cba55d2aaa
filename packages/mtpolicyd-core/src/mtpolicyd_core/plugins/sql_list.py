"""SqlList: a request field looked up with an SQL query; found or not found decides the action."""

from __future__ import annotations

from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.match_actions import MatchActions
from mtpolicyd_core.roles.sql_tables import SqlTables
from mtpolicyd_core.roles.switch import Switchable


class SqlList(Switchable, MatchActions, SqlTables, Plugin):
    """Runs ``sql_query`` with the request's ``field`` (2.x; 1.x: always client_address) as its
    one ``?`` parameter. A row found is a match: ``score`` is added once per mail and
    ``match_action`` answered; no row answers ``not_match_action``. The lookup is cached per mail.
    """

    sql_query = Option(
        STR,
        default="SELECT client_ip FROM whitelist WHERE client_ip=INET_ATON(?)",
        doc="query with one `?` placeholder for the value; any row returned is a match",
    )
    score = Option(maybe(NUM), doc="score added on a match, once per mail")
    match_action = Option(maybe(STR), doc="action answered when the query returned a row")
    not_match_action = Option(maybe(STR), doc="action answered when the query returned no row")
    field = Option(STR, default="client_address", doc="2.x: request attribute used as query parameter")

    def init(self) -> None:
        self.check_connections()

    @property
    def lookup_field(self) -> str:
        """The request attribute looked up (1.17 had no ``field`` option)."""
        return "client_address" if self.dialect == "1" else self.field

    async def found(self, request: Request, value: str) -> bool:
        """Whether the query matched, as the original decides it.

        With a session the cached row counts when it has columns; without one
        the original reads the first column's value, so ``0``/NULL are no match.
        """
        if request.session is None or not request.use_caching:
            row = (await self.execute_sql(self.sql_query, value)).first_row
            return row is not None and perl_true(row[0])

        async def first_row() -> list[object]:
            return (await self.execute_sql(self.sql_query, value)).first_row or []

        return len(await request.do_cached(f"{self.name}-result", first_row)) > 0

    async def run(self, request: Request) -> list[PluginResult]:
        field = self.lookup_field
        value = request.attr(field)
        if value is None:
            self.debug(request, f"no attribute '{field}' in request")
            return []
        if await self.found(request, value):
            self.debug(request, f"{field} {value} matched SqlList {self.name}")
            return self.match_results(request, matched=True)
        self.debug(request, f"{field} {value} did not match SqlList {self.name}")
        return self.match_results(request, matched=False)
