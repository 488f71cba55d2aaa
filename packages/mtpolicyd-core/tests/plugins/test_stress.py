from collections.abc import Callable

from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


async def test_stress_answers_action_only_under_stress(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("stress", module="Stress", action="defer please try again later"))
    assert await plugin.run(Request({"stress": "yes"}, {})) == [
        PluginResult("defer please try again later", abort=True)
    ]
    assert await plugin.run(Request({"stress": "no"}, {})) == []
    assert await plugin.run(Request({}, {})) == []


async def test_stress_runs_nested_chain_without_action(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(
        block("stress", block("inner", module="Action", action="reject busy"), module="Stress")
    )
    assert await plugin.run(Request({"stress": "yes"}, {})) == [PluginResult("reject busy", abort=True)]


async def test_stress_action_can_be_overridden_from_the_session(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("stress", module="Stress", action="defer", uc_action="user_stress"))
    assert await plugin.run(Request({"stress": "yes"}, {"user_stress": "dunno"})) == [
        PluginResult("dunno", abort=True)
    ]


async def test_stress_without_action_or_chain_answers_nothing(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("stress", module="Stress"))
    assert await plugin.run(Request({"stress": "yes"}, {})) == []
