"""ScoreAction: acts when the mail's score reaches a threshold."""

from __future__ import annotations

from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.scoring import Scoring


class ScoreAction(Scoring, NestedChain, Plugin):
    """Answers ``action`` or runs its nested chain when the score is >= (gt) or <= (lt) the threshold."""

    threshold = Option(NUM, required=True, user_config=True, doc="the score at which the plugin fires")
    match = Option(
        STR,
        default="gt",
        doc="`gt`: fire when score >= threshold; `lt`: when score <= threshold",
        choices=("gt", "lt"),
        otherwise="the plugin fails every request (unknown value for parameter match.)",
    )
    action = Option(
        maybe(STR),
        doc="action to answer; `%IP%`, `%SCORE%` and `%SCORE_DETAIL%` are replaced (first occurrence each)",
    )

    async def run(self, request: Request) -> list[PluginResult]:
        score = self.get_score(request)
        detail = self.get_score_detail(request)
        threshold = perl_numify(self.get_uc(request, "threshold"))
        if self.match == "gt" and perl_numify(score) < threshold:
            return []
        if self.match == "lt" and perl_numify(score) > threshold:
            return []
        if self.match not in ("gt", "lt"):
            raise ValueError("unknown value for parameter match.")
        action = None if self.action is None else self.expand(request, self.action, score, detail)
        return await self.action_or_chain(request, action)

    def expand(self, request: Request, action: str, score: object, detail: str | None) -> str:
        """Replace the first ``%IP%``, ``%SCORE%`` and ``%SCORE_DETAIL%``, in that order."""
        ip = request.attr("client_address")
        action = action.replace("%IP%", "unknown" if ip is None else ip, 1)
        action = action.replace("%SCORE%", perl_str(score), 1)
        return action.replace("%SCORE_DETAIL%", "" if detail is None else f", {detail}", 1)
