"""Role: a list look-up answers ``match_action`` on a match (after ``score``), else ``not_match_action``."""

from __future__ import annotations

from mtpolicyd_core.perl.numbers import Num
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import Scoring


class MatchActions(Scoring):
    """A match adds ``score`` once per mail and answers ``match_action``; no match answers
    ``not_match_action``. Either action, when set, ends the chain (SqlList, PostfixMap)."""

    name: str
    score: Num | None
    match_action: str | None
    not_match_action: str | None

    def match_results(self, request: Request, matched: bool) -> list[PluginResult]:
        """The answer for a look-up that ``matched`` or not."""
        if matched:
            if self.score is not None and not request.is_already_done(f"{self.name}-score"):
                self.add_score(request, self.name, self.score)
            action = self.match_action
        else:
            action = self.not_match_action
        return [] if action is None else [PluginResult(action, abort=True)]
