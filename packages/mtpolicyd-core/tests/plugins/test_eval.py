from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


async def test_eval_stores_nested_actions_joined_by_newline_and_answers_nothing(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(
        block(
            "eval-it",
            block("a", module="SetField", key="x", value="1"),
            block("b", module="Stress", action="defer busy"),
            block("c", module="Action", action="reject no"),
            module="Eval",
            store_in="eval_result",
        )
    )
    session: dict[str, object] = {}
    assert await plugin.run(Request({"stress": "yes"}, session)) == []
    assert session == {"x": "1", "eval_result": "defer busy"}


async def test_eval_joins_several_actions_of_passive_results(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = build_plugin(
        block("eval-it", block("a", module="Action", action="reject"), module="Eval", store_in="out")
    )
    assert plugin.chain is not None

    async def two_results(request: Request) -> list[PluginResult]:
        return [PluginResult("PREPEND X: 1"), PluginResult("dunno", abort=True)]

    monkeypatch.setattr(plugin.chain.plugins[0], "run", two_results)
    session: dict[str, object] = {}
    await plugin.run(Request({}, session))
    assert session["out"] == "PREPEND X: 1\ndunno"


async def test_eval_leaves_the_field_alone_when_nothing_answered(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(
        block("eval-it", block("a", module="Stress", action="defer"), module="Eval", store_in="out")
    )
    session = {"out": "old"}
    assert await plugin.run(Request({}, session)) == []
    assert session == {"out": "old"}


async def test_eval_without_nested_chain_does_nothing(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("eval-it", module="Eval", store_in="out"))
    assert await plugin.run(Request({}, None)) == []
