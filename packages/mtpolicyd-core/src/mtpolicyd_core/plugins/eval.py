"""Eval: runs its nested chain and keeps the answer in a session field instead of answering."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain


class Eval(NestedChain, Plugin):
    """Stores the actions of its nested chain, joined by newlines, in the session field ``store_in``."""

    store_in = Option(STR, required=True, doc="session field that receives the nested chain's actions")

    async def run(self, request: Request) -> list[PluginResult]:
        if self.chain is None:
            return []
        actions = (await self.chain.run(request)).actions
        if actions:
            request.require_session()[self.store_in] = "\n".join(actions)
        return []
