from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

REJECT = [PluginResult("reject", abort=True)]


@pytest.fixture
def condition(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(dialect: str = "2", *nested: Block, **settings: str) -> Plugin:
        settings.setdefault("action", "reject")
        return build_plugin(block("cond", *nested, module="Condition", **settings), dialect=dialect)

    return build


async def test_condition_2x_reads_request_attribute_by_default(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="queue_id", match="4561B3D95D8B")
    assert await plugin.run(Request({"queue_id": "4561B3D95D8B"}, {})) == REJECT
    assert await plugin.run(Request({}, {"queue_id": "4561B3D95D8B"})) == []


@pytest.mark.parametrize("key", ["s:greylisting", "session:greylisting"])
async def test_condition_2x_reads_session_with_scope(condition: Callable[..., Plugin], key: str) -> None:
    plugin = condition(key=key, match="on", action="postgrey_users")
    assert await plugin.run(Request({}, {"greylisting": "off"})) == []
    assert await plugin.run(Request({}, {"greylisting": "on"})) == [
        PluginResult("postgrey_users", abort=True)
    ]


async def test_condition_1x_key_names_a_session_field(condition: Callable[..., Plugin]) -> None:
    plugin = condition("1", key="greylisting", match="on")
    assert await plugin.run(Request({"greylisting": "on"}, {})) == []
    assert await plugin.run(Request({}, {"greylisting": "on"})) == REJECT


async def test_condition_1x_takes_a_scoped_key_literally_as_session_field(
    condition: Callable[..., Plugin],
) -> None:
    plugin = condition("1", key="r:queue_id", match="Q")
    assert await plugin.run(Request({"queue_id": "Q"}, {})) == []
    assert await plugin.run(Request({}, {"r:queue_id": "Q"})) == REJECT


async def test_condition_2x_unknown_scope_fails_the_plugin(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="x:queue_id", match="Q")
    with pytest.raises(ValueError, match="unknown scope x"):
        await plugin.run(Request({}, {}))


async def test_condition_2x_invert_negates_the_match(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="queue_id", match="Q", invert="1")
    assert await plugin.run(Request({"queue_id": "Q"}, {})) == []
    assert await plugin.run(Request({"queue_id": "other"}, {})) == REJECT


async def test_condition_invert_never_matches_an_undefined_value(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="queue_id", match="Q", invert="1")
    assert await plugin.run(Request({}, {})) == []


async def test_condition_1x_ignores_invert(condition: Callable[..., Plugin]) -> None:
    plugin = condition("1", key="k", match="Q", invert="1")
    assert await plugin.run(Request({}, {"k": "Q"})) == REJECT


async def test_condition_match_is_exact_string_equality(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="k", match="on")
    assert await plugin.run(Request({"k": "on "}, {})) == []
    assert await plugin.run(Request({"k": "ON"}, {})) == []


async def test_condition_re_match_searches_anywhere(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="client_name", re_match=r"\.google\.com$")
    assert await plugin.run(Request({"client_name": "mail-a.google.com"}, {})) == REJECT
    assert await plugin.run(Request({"client_name": "google.com.evil"}, {})) == []


async def test_condition_invalid_regex_fails_the_plugin_at_request_time(
    condition: Callable[..., Plugin],
) -> None:
    plugin = condition(key="k", re_match="(unclosed")
    with pytest.raises(Exception, match="missing \\)"):
        await plugin.run(Request({"k": "x"}, {}))


@pytest.mark.parametrize(("value", "matched"), [("5", False), ("5.1", True), ("abc", False), ("6x", True)])
async def test_condition_gt_match_compares_numerically(
    condition: Callable[..., Plugin], value: str, matched: bool
) -> None:
    plugin = condition(key="k", gt_match="5")
    assert (await plugin.run(Request({"k": value}, {})) == REJECT) is matched


@pytest.mark.parametrize(("value", "matched"), [("5", False), ("4.9", True), ("abc", True), ("", True)])
async def test_condition_lt_match_compares_numerically_non_numbers_as_zero(
    condition: Callable[..., Plugin], value: str, matched: bool
) -> None:
    plugin = condition(key="k", lt_match="5")
    assert (await plugin.run(Request({"k": value}, {})) == REJECT) is matched


async def test_condition_any_test_suffices(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="k", match="yes", gt_match="10")
    assert await plugin.run(Request({"k": "yes"}, {})) == REJECT
    assert await plugin.run(Request({"k": "11"}, {})) == REJECT
    assert await plugin.run(Request({"k": "7"}, {})) == []


async def test_condition_without_tests_never_matches(condition: Callable[..., Plugin]) -> None:
    assert await condition(key="k").run(Request({"k": "x"}, {})) == []


async def test_condition_adds_score_then_answers_action(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="k", match="x", score="2.50")
    session: dict[str, object] = {}
    assert await plugin.run(Request({"k": "x"}, session)) == REJECT
    assert session == {"score": 2.5, "score_detail": "cond=2.50"}


async def test_condition_adds_score_on_every_matching_request(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("cond", module="Condition", key="k", match="x", score="1"))
    session: dict[str, object] = {}
    for _ in range(2):
        assert await plugin.run(Request({"k": "x"}, session)) == []
    assert session == {"score": 2, "score_detail": "cond=1, cond=1"}


async def test_condition_runs_nested_chain_when_no_action(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(
        block(
            "cond", block("inner", module="Action", action="zumsel"), module="Condition", key="k", match="x"
        )
    )
    assert await plugin.run(Request({"k": "x"}, {})) == [PluginResult("zumsel", abort=True)]
    assert await plugin.run(Request({"k": "y"}, {})) == []


async def test_condition_score_and_action_come_from_user_config(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="k", match="x", score="1", uc_score="my_score", uc_action="my_action")
    session = {"my_score": "7", "my_action": "accept"}
    assert await plugin.run(Request({"k": "x"}, session)) == [PluginResult("accept", abort=True)]
    assert session["score_detail"] == "cond=7"


async def test_condition_compares_session_numbers_as_perl_strings(condition: Callable[..., Plugin]) -> None:
    plugin = condition(key="s:score", match="7.5")
    assert await plugin.run(Request({}, {"score": 7.5})) == REJECT
    assert await condition(key="s:score", match="5").run(Request({}, {"score": 5.0})) == REJECT


def test_condition_rejects_non_numeric_gt_match(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    with pytest.raises(ConfigError, match="gt_match"):
        build_plugin(block("cond", module="Condition", key="k", gt_match="five"))
