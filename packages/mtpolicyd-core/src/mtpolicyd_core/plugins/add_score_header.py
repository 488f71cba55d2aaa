"""AddScoreHeader: prepends a header with the score of the mail, once per mail."""

from __future__ import annotations

from mtpolicyd_core.options import NUM, STR, Option
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import Scoring


class AddScoreHeader(Scoring, Plugin):
    """Answers ``PREPEND <header_name>: YES|NO score=<score> [<details>]`` once per mail.

    Later requests of the same mail get ``dunno``, which ends the chain.
    """

    header_name = Option(STR, default="X-MtScore", doc="name of the header")
    spam_score = Option(NUM, default="5", user_config=True, doc="score from which the header says YES")

    async def run(self, request: Request) -> list[PluginResult]:
        score = self.get_score(request)
        spam_score = perl_numify(self.get_uc(request, "spam_score"))
        verdict = "YES" if perl_numify(score) >= spam_score else "NO"
        value = f"{verdict} score={perl_str(score)}"
        details = self.get_score_detail(request)
        if perl_true(details):  # an empty or "0" detail is left out
            value += f" [{details}]"
        is_done = request.is_already_done(f"score-{self.score_field}-tag")
        return [PluginResult.header_once(is_done, self.header_name, value)]
