"""Stress: acts when Postfix reports that it is under stress."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option, maybe
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain


class Stress(NestedChain, Plugin):
    """Answers ``action`` or runs its nested chain when the request carries ``stress=yes``."""

    action = Option(maybe(STR), user_config=True, doc="action answered under stress")

    async def run(self, request: Request) -> list[PluginResult]:
        if request.attr("stress") != "yes":
            return []
        self.debug(request, "MTA has stress feature turned on")
        return await self.action_or_chain(request, self.get_uc(request, "action"))
