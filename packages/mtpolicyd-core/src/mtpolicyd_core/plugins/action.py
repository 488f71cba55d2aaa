"""Action: always answers the configured action and ends the chain."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


class Action(Plugin):
    """Answers the configured action for every request; a chain's default or its end."""

    action = Option(STR, required=True, doc="the action to answer, any Postfix access action")

    async def run(self, request: Request) -> list[PluginResult]:
        return [PluginResult(self.action, abort=True)]
