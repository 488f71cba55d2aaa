from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

LISTED = ["127.0.0.4", "see https://x.test/q"]


@pytest.fixture
def rbl_action(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(**settings: str) -> Plugin:
        settings.setdefault("result_from", "sh-rbl")
        settings.setdefault("re_match", r"^127\.0\.0\.[4-7]$")
        return build_plugin(block("sh-rbl-xbl", module="RBLAction", **settings))

    return build


def request(session: Session) -> Request:
    return Request({"instance": "abcd", "client_address": "127.0.0.4"}, session)


async def test_rbl_action_rejects_when_the_address_matches(rbl_action: Callable[..., Plugin]) -> None:
    session: Session = {"rbl-sh-rbl-result": list(LISTED)}
    assert await rbl_action(score="5").run(request(session)) == [
        PluginResult("reject delivery from 127.0.0.4 rejected (see https://x.test/q)", abort=True)
    ]
    assert session["score_detail"] == "sh-rbl-xbl=5"


async def test_rbl_action_ignores_other_addresses(rbl_action: Callable[..., Plugin]) -> None:
    session: Session = {"rbl-sh-rbl-result": list(LISTED)}
    assert await rbl_action(re_match=r"^127\.0\.0\.[23]$", score="5").run(request(session)) == []
    assert "score" not in session


async def test_rbl_action_without_stored_result_does_nothing(rbl_action: Callable[..., Plugin]) -> None:
    assert await rbl_action().run(request({})) == []
    assert await rbl_action().run(request({"rbl-sh-rbl-result": "127.0.0.4"})) == []
    assert await rbl_action().run(Request({"client_address": "127.0.0.4"}, None)) == []


async def test_rbl_action_not_listed_does_nothing(rbl_action: Callable[..., Plugin]) -> None:
    assert await rbl_action().run(request({"rbl-sh-rbl-result": []})) == []


async def test_rbl_action_accept_and_passive_modes(rbl_action: Callable[..., Plugin]) -> None:
    assert await rbl_action(mode="accept").run(request({"rbl-sh-rbl-result": LISTED})) == [
        PluginResult.dunno()
    ]
    session: Session = {"rbl-sh-rbl-result": LISTED}
    assert await rbl_action(mode="passive", score="1").run(request(session)) == []
    assert await rbl_action(mode="passive", score="1").run(request(session)) == []
    assert session["score"] == 1


async def test_rbl_action_disabled_per_user(rbl_action: Callable[..., Plugin]) -> None:
    session: Session = {"rbl-sh-rbl-result": LISTED, "rbl_off": "off"}
    assert await answer(rbl_action(uc_enabled="rbl_off"), request(session)) == []
