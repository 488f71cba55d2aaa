from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer


@pytest.fixture
def sa_awl_action(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(**settings: str) -> Plugin:
        return build_plugin(block("sa-awl-test", module="SaAwlAction", result_from="amavis", **settings))

    return build


def request(reputation: object, session: Session | None = None) -> Request:
    session = {} if session is None else session
    session["sa-awl-amavis-result"] = reputation
    return Request({"sender": "good@mtpolicyd.org", "client_address": "12.34.56.78"}, session)


async def test_sa_awl_action_low_score_passes(sa_awl_action: Callable[..., Plugin]) -> None:
    assert await sa_awl_action().run(request(["100", 1.4])) == []


async def test_sa_awl_action_rejects_bad_reputation(sa_awl_action: Callable[..., Plugin]) -> None:
    assert await sa_awl_action().run(request(["100", 20])) == [
        PluginResult("reject sender address/ip has bad reputation", abort=True)
    ]


async def test_sa_awl_action_message_placeholders(sa_awl_action: Callable[..., Plugin]) -> None:
    plugin = sa_awl_action(reject_message="%SENDER% from %IP% has %SCORE%")
    assert await plugin.run(request(["100", 7.5])) == [
        PluginResult("reject good@mtpolicyd.org from 12.34.56.78 has 7.5", abort=True)
    ]


async def test_sa_awl_action_score_factor_scales_the_awl_score(sa_awl_action: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    assert await sa_awl_action(mode="passive", score_factor="0.5").run(request(["100", 20], session)) == []
    assert session["score"] == 10


async def test_sa_awl_action_fixed_score_wins_and_counts_once(sa_awl_action: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    plugin = sa_awl_action(mode="passive", score="5", score_factor="0.5")
    await plugin.run(request(["100", 20], session))
    await plugin.run(request(["100", 20], session))
    assert session["score"] == 5


async def test_sa_awl_action_lt_match_answers_dunno(sa_awl_action: Callable[..., Plugin]) -> None:
    plugin = sa_awl_action(mode="accept", threshold="-1", match="lt")
    assert await plugin.run(request(["100", 20])) == []
    assert await plugin.run(request(["100", -5])) == [PluginResult.dunno()]


async def test_sa_awl_action_ignores_records_below_min_count(sa_awl_action: Callable[..., Plugin]) -> None:
    assert await sa_awl_action().run(request(["9", 20])) == []


async def test_sa_awl_action_without_record_does_nothing(sa_awl_action: Callable[..., Plugin]) -> None:
    assert await sa_awl_action().run(request([])) == []
    assert await sa_awl_action().run(Request({}, {})) == []


async def test_sa_awl_action_disabled_per_user(sa_awl_action: Callable[..., Plugin]) -> None:
    assert await answer(sa_awl_action(uc_enabled="awl"), request(["100", 20], {"awl": "off"})) == []


async def test_sa_awl_action_score_written_0_0_is_true_as_in_perl(
    sa_awl_action: Callable[..., Plugin],
) -> None:
    # the configured text "0.0" is a true string in Perl: the fixed score (0) wins over the factor
    session: dict[str, object] = {}
    assert (
        await sa_awl_action(mode="passive", score="0.0", score_factor="2").run(request(["100", 6], session))
        == []
    )
    assert session["score"] == 0
    assert session["score_detail"] == "sa-awl-test=0.0"
