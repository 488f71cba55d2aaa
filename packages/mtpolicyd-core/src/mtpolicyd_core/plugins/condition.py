"""Condition: acts when a session field (1.x) or a scoped value (2.x) matches."""

from __future__ import annotations

from typing import Any

from mtpolicyd_core.options import BOOL, NUM, STR, Option, maybe
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.perl.regex import perl_search
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.scoring import Scoring


class Condition(Scoring, NestedChain, Plugin):
    """Tests one value; on a match adds ``score``, then answers ``action`` or runs its nested chain.

    Dialect 1: ``key`` names a session field. Dialect 2: ``key`` is ``[scope:]name``
    with scope ``request``/``r`` (default) or ``session``/``s``, and ``invert`` exists.
    """

    key = Option(
        STR, required=True, doc="the value to test: 1.x a session field; 2.x `[request:|session:]name`"
    )
    score = Option(maybe(NUM), user_config=True, doc="score added on a match")
    action = Option(maybe(STR), user_config=True, doc="action answered on a match")
    match = Option(maybe(STR), doc="matches when the value equals this string")
    re_match = Option(maybe(STR), doc="matches when the value matches this (Perl) regular expression")
    gt_match = Option(maybe(NUM), doc="matches when the value is numerically greater")
    lt_match = Option(maybe(NUM), doc="matches when the value is numerically less")
    invert = Option(BOOL, default="0", doc="2.x only: match when none of the tests matches")

    def value(self, request: Request) -> Any:
        """The tested value; None when it is not defined."""
        if self.dialect == "1":
            return None if request.session is None else request.session.get(self.key)
        return request.get(self.key)

    def matches(self, value: Any) -> bool:
        """Whether any configured test holds for the (defined) value."""
        if self.match is not None and perl_str(value) == self.match:
            return True
        if self.re_match is not None and perl_search(self.re_match, perl_str(value)):
            return True
        if self.lt_match is not None and perl_numify(value) < self.lt_match:
            return True
        return self.gt_match is not None and perl_numify(value) > self.gt_match

    async def run(self, request: Request) -> list[PluginResult]:
        value = self.value(request)
        if value is None:
            return []
        matched = self.matches(value)
        if self.invert and self.dialect == "2":
            matched = not matched
        if not matched:
            return []
        self.debug(request, f"{self.key} matched {perl_str(value)}")
        score = self.get_uc(request, "score")
        if score is not None:
            self.add_score(request, self.name, score)
        return await self.action_or_chain(request, self.get_uc(request, "action"))
