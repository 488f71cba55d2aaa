from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import NoSessionError, Request, Session
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import add_score

TEMPLATE = "reject sender ip %IP% is blocked (score=%SCORE%%SCORE_DETAIL%)"


@pytest.fixture
def score_action(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(*nested: Block, **settings: str) -> Plugin:
        return build_plugin(block("score-action", *nested, module="ScoreAction", **settings))

    return build


def scored_session(*scores: tuple[str, object]) -> Session:
    session: Session = {"_instance": "abcd1234"}
    request = Request({}, session)
    for name, value in scores:
        add_score(request, "score", name, value)
    return session


async def test_score_action_fires_at_threshold_with_expanded_action(
    score_action: Callable[..., Plugin],
) -> None:
    plugin = score_action(threshold="10", action=TEMPLATE)
    session = scored_session(("ZUMSEL", 5), ("BLA", 2.5))
    request = Request({"client_address": "127.0.0.1"}, session)
    assert await plugin.run(request) == []
    add_score(request, "score", "BLUB", 2.5)
    assert await plugin.run(request) == [
        PluginResult(
            "reject sender ip 127.0.0.1 is blocked (score=10, ZUMSEL=5, BLA=2.5, BLUB=2.5)", abort=True
        )
    ]


@pytest.mark.parametrize(("score", "fires"), [(9.99, False), (10, True), (10.01, True)])
async def test_score_action_gt_fires_when_score_reaches_threshold(
    score_action: Callable[..., Plugin], score: float, fires: bool
) -> None:
    plugin = score_action(threshold="10", action="reject")
    assert bool(await plugin.run(Request({}, {"score": score}))) is fires


@pytest.mark.parametrize(("score", "fires"), [(-5.01, True), (-5, True), (-4.99, False)])
async def test_score_action_lt_fires_when_score_at_or_below_threshold(
    score_action: Callable[..., Plugin], score: float, fires: bool
) -> None:
    plugin = score_action(threshold="-5", match="lt", action="accept")
    assert bool(await plugin.run(Request({}, {"score": score}))) is fires


async def test_score_action_without_score_counts_zero(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="0", action="reject")
    assert await plugin.run(Request({}, {})) == [PluginResult("reject", abort=True)]


async def test_score_action_fails_without_session_even_below_threshold(
    score_action: Callable[..., Plugin],
) -> None:
    with pytest.raises(NoSessionError):
        await score_action(threshold="100", action="reject").run(Request({}, None))


async def test_score_action_ip_is_unknown_without_client_address(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="0", action="reject %IP%")
    assert await plugin.run(Request({}, {})) == [PluginResult("reject unknown", abort=True)]


async def test_score_action_score_detail_is_empty_without_details(
    score_action: Callable[..., Plugin],
) -> None:
    plugin = score_action(threshold="0", action="reject score=%SCORE%%SCORE_DETAIL%!")
    assert await plugin.run(Request({}, {"score": 3})) == [PluginResult("reject score=3!", abort=True)]


async def test_score_action_replaces_only_the_first_occurrence(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="0", action="%IP% %IP% %SCORE% %SCORE% %SCORE_DETAIL% %SCORE_DETAIL%")
    session = scored_session(("a", "1"))
    result = await plugin.run(Request({"client_address": "192.0.2.1"}, session))
    assert result == [PluginResult("192.0.2.1 %IP% 1 %SCORE% , a=1 %SCORE_DETAIL%", abort=True)]


async def test_score_action_prints_score_like_perl(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="0", action="%SCORE%")
    session = scored_session(("a", "0.1"), ("b", "0.2"))
    assert await plugin.run(Request({}, session)) == [PluginResult("0.3", abort=True)]


async def test_score_action_threshold_from_user_config(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="10", uc_threshold="my_threshold", action="reject")
    assert await plugin.run(Request({}, {"score": 3, "my_threshold": "2"})) == [
        PluginResult("reject", abort=True)
    ]
    assert await plugin.run(Request({}, {"score": 3})) == []


async def test_score_action_runs_nested_chain_without_action(
    score_action: Callable[..., Plugin], block: Callable[..., Block]
) -> None:
    plugin = score_action(block("greylist", module="Action", action="defer greylisted"), threshold="5")
    assert await plugin.run(Request({}, {"score": 5})) == [PluginResult("defer greylisted", abort=True)]
    assert await plugin.run(Request({}, {"score": 4})) == []


async def test_score_action_unknown_match_fails_when_run(score_action: Callable[..., Plugin]) -> None:
    plugin = score_action(threshold="5", match="ge", action="reject")
    with pytest.raises(ValueError, match=r"unknown value for parameter match\."):
        await plugin.run(Request({}, {}))
