"""Role: nested ``<Plugin>`` blocks run when the plugin matches (Condition, ScoreAction, …)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from mtpolicyd_core.perl.numbers import perl_str
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

if TYPE_CHECKING:
    from mtpolicyd_core.chain import PluginChain


class NestedChain:
    """The plugin may hold nested ``<Plugin>`` blocks, run in place of an action on a match."""

    takes_chain: ClassVar[bool] = True
    chain: PluginChain | None

    async def action_or_chain(self, request: Request, action: object) -> list[PluginResult]:
        """On a match: ``action`` (ending the chain) when set, else the nested chain's results."""
        if action is not None:
            return [PluginResult(perl_str(action), abort=True)]
        if self.chain is not None:
            return list((await self.chain.run(request)).plugin_results)
        return []
