"""RBLAction: acts on the address an RBL plugin found, when it matches a pattern."""

from __future__ import annotations

from mtpolicyd_core.lookups.dns import listing_info
from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.perl.regex import perl_search
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.rbl import ListedAnswers, rbl_mode_option, rbl_reject_message_option
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.switch import Switchable


class RBLAction(Switchable, ListedAnswers, Plugin):
    """Acts like RBL on the answer the RBL plugin ``result_from`` stored for this mail, but only when
    the returned address (e.g. `127.0.0.4`) matches ``re_match``: one category of a combined list."""

    result_from = Option(STR, required=True, doc="name of the RBL plugin whose answer is used")
    mode = rbl_mode_option()
    re_match = Option(STR, required=True, doc="(Perl) regular expression the returned address must match")
    reject_message = rbl_reject_message_option()
    score = Option(maybe(NUM), doc="score added on a match")

    async def run(self, request: Request) -> list[PluginResult]:
        ip = request.attr("client_address")
        mode = self.get_uc(request, "mode")
        listing = None if request.session is None else request.session.get(f"rbl-{self.result_from}-result")
        if not isinstance(listing, list):
            self.debug(request, f"no RBL check result for {self.name} found!")
            return []
        if not listing:
            return []
        address = str(listing[0])
        if not perl_search(self.re_match, address):
            self.debug(request, f"{address} did not match regex {self.re_match}")
            return []
        self.debug(request, f"{address} match regex {self.re_match}")
        return self.listed_results(request, mode, ip or "", listing_info(listing))
