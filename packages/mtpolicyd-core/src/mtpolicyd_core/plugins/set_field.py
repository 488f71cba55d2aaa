"""SetField: writes a fixed value into a session field."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


class SetField(Plugin):
    """Sets the session field ``key`` to ``value``; answers nothing."""

    key = Option(STR, required=True, doc="name of the session field")
    value = Option(STR, required=True, doc="the value to store")

    async def run(self, request: Request) -> list[PluginResult]:
        request.require_session()[self.key] = self.value
        return []
