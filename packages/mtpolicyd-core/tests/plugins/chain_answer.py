"""Run one plugin the way a chain runs it (a switched-off plugin is skipped there)."""

from __future__ import annotations

from mtpolicyd_core.chain import PluginChain
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


async def answer(plugin: Plugin, request: Request) -> list[PluginResult]:
    """The results of ``plugin`` for ``request`` inside a one-plugin chain."""
    return (await PluginChain("test", (plugin,)).run(request)).plugin_results
