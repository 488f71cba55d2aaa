"""RBLAction: acts on the address an RBL plugin found, when it matches a pattern."""

from __future__ import annotations

from mtpolicyd_core.lookups.dns import listing_info
from mtpolicyd_core.options import NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.regex import perl_search
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.rbl import rbl_reject_action
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


class RBLAction(Switchable, ModeAnswers, Scoring, Plugin):
    """Acts like RBL on the answer the RBL plugin ``result_from`` stored for this mail, but only when
    the returned address (e.g. `127.0.0.4`) matches ``re_match``: one category of a combined list."""

    result_from = Option(STR, required=True, doc="name of the RBL plugin whose answer is used")
    mode = mode_option("reject", ("reject", "accept", "passive"), "`reject`, `accept` or `passive`")
    re_match = Option(STR, required=True, doc="(Perl) regular expression the returned address must match")
    reject_message = Option(
        STR,
        default="delivery from %IP% rejected %INFO%",
        doc="text after `reject`; `%IP%` is the client address, `%INFO%` the list's TXT text in parentheses",
    )
    score = Option(maybe(NUM), doc="score added on a match")

    accept_modes = ("accept",)

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
        if self.score is not None and not request.is_already_done(f"rbl-{self.name}-score"):
            self.add_score(request, self.name, self.score)
        return self.mode_results(
            mode, rbl_reject_action(self.reject_message, ip or "", listing_info(listing))
        )
