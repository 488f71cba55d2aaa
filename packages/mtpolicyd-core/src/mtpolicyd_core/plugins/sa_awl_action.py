"""SaAwlAction: acts on the SpamAssassin AWL reputation SaAwlLookup found."""

from __future__ import annotations

from mtpolicyd_core.options import INT, MODES, NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


class SaAwlAction(Switchable, ModeAnswers, Scoring, Plugin):
    """Acts when the AWL average score the SaAwlLookup plugin ``result_from`` found (from at least
    ``min_count`` mails) is >= ``threshold`` (`match = gt`) or <= it (`lt`): adds ``score`` or the
    AWL score times ``score_factor`` (once per mail), then rejects, answers dunno or only scores."""

    result_from = Option(STR, required=True, doc="name of the SaAwlLookup plugin whose result is used")
    mode = mode_option("reject", MODES, "`reject`, `accept`/`dunno` or `passive`")
    reject_message = Option(
        STR,
        default="sender address/ip has bad reputation",
        doc="text after `reject`; `%IP%`, `%SENDER%` and `%SCORE%` (the AWL score) are replaced",
    )
    score = Option(maybe(NUM), doc="score added on a match")
    score_factor = Option(maybe(NUM), doc="without `score`: add the AWL score times this factor")
    min_count = Option(INT, default="10", doc="ignore AWL records of fewer mails")
    threshold = Option(NUM, default="5", doc="the AWL score compared with")
    match = Option(
        STR,
        default="gt",
        doc="`gt`: act when AWL score >= threshold; `lt`: when <= threshold",
        choices=("gt", "lt"),
        otherwise="it never acts",
    )

    def matches(self, awl_score: float) -> bool:
        """Whether the AWL score passes the threshold in the configured direction."""
        if self.match == "gt":
            return awl_score >= self.threshold
        return self.match == "lt" and awl_score <= self.threshold

    async def run(self, request: Request) -> list[PluginResult]:
        sender = request.attr("sender")
        ip = request.attr("client_address")
        found = None if request.session is None else request.session.get(f"sa-awl-{self.result_from}-result")
        if found is None:
            self.debug(request, f"no SaAwlLookup result for {self.result_from} found!")
            return []
        if not isinstance(found, list) or len(found) < 2 or found[0] is None or found[1] is None:
            return []
        count, awl_score = found[0], found[1]
        if perl_numify(count) < self.min_count:
            self.debug(request, "sender awl reputation below min_count")
            return []
        if not self.matches(perl_numify(awl_score)):
            return []
        self.debug(request, f"matched SA AWL threshold action {self.name}")
        # not add_score_once: the original raises the flag even when it adds nothing
        if not request.is_already_done(f"sa-awl-{self.name}-score"):
            if perl_true(self.score):  # the configured text: "0.0" is true
                self.add_score(request, self.name, self.score)
            elif self.score_factor is not None and perl_true(self.score_factor):
                self.add_score(request, self.name, perl_numify(awl_score) * self.score_factor)
        message = self.reject_message.replace("%IP%", ip or "", 1).replace("%SENDER%", sender or "", 1)
        reject = "reject " + message.replace("%SCORE%", perl_str(awl_score), 1)
        return self.mode_results(self.get_uc(request, "mode"), reject)
