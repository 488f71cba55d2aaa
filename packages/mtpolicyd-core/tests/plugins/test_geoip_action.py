from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer


@pytest.fixture
def geoip_action(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(dialect: str = "2", **settings: str) -> Plugin:
        settings.setdefault("result_from", "geoip")
        settings.setdefault("country_codes", "CN, RU,KP")
        return build_plugin(block("geo-block", module="GeoIPAction", **settings), dialect)

    return build


def request(code: str | None, session: Session | None = None) -> Request:
    session = {} if session is None else session
    session["geoip-geoip-result"] = [code]
    return Request({"client_address": "198.51.100.9"}, session)


async def test_geoip_action_rejects_listed_country(geoip_action: Callable[..., Plugin]) -> None:
    assert await geoip_action().run(request("RU")) == [
        PluginResult("reject delivery from RU (198.51.100.9) rejected", abort=True)
    ]


async def test_geoip_action_ignores_other_countries(geoip_action: Callable[..., Plugin]) -> None:
    assert await geoip_action().run(request("DE")) == []


async def test_geoip_action_accept_dunno_and_passive_modes(geoip_action: Callable[..., Plugin]) -> None:
    assert await geoip_action(mode="accept").run(request("CN")) == [PluginResult.dunno()]
    assert await geoip_action(mode="dunno").run(request("CN")) == [PluginResult.dunno()]
    session: dict[str, object] = {}
    plugin = geoip_action(mode="passive", score="3")
    assert await plugin.run(request("CN", session)) == []
    assert await plugin.run(request("CN", session)) == []
    assert session["score_detail"] == "geo-block=3"


async def test_geoip_action_without_lookup_result_does_nothing(geoip_action: Callable[..., Plugin]) -> None:
    assert await geoip_action().run(Request({"client_address": "1.2.3.4"}, {})) == []


async def test_geoip_action_disabled_per_user(geoip_action: Callable[..., Plugin]) -> None:
    assert await answer(geoip_action(uc_enabled="geo"), request("CN", {"geo": "off"})) == []


async def test_geoip_action_unknown_country_passes_in_2x(geoip_action: Callable[..., Plugin]) -> None:
    assert await geoip_action(country_codes="CN,,RU").run(request(None)) == []


async def test_geoip_action_unknown_country_matches_an_empty_code_in_1x(
    geoip_action: Callable[..., Plugin],
) -> None:
    plugin = geoip_action(dialect="1", country_codes="CN,,RU")
    assert await plugin.run(request(None)) == [
        PluginResult("reject delivery from  (198.51.100.9) rejected", abort=True)
    ]
    assert await geoip_action(dialect="1").run(request(None)) == []
