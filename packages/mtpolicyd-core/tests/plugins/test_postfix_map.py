from collections.abc import Callable
from pathlib import Path

import pytest
from berkeley_data import postmap
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

MAP = {
    "123.123.123.123": "OK",
    "123.123.124": "OK",
    "10.1": "REJECT not you",
    "fe80::250:56ff:fe85:56f5": "OK",
    "fe81": "5",
    "fe82:1": "0",
}
DUNNO = [PluginResult("dunno", abort=True)]


@pytest.fixture
def postfix_map(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path
) -> Callable[..., Plugin]:
    path = postmap(tmp_path / "postmap.db", MAP)

    def build(**settings: str) -> Plugin:
        return build_plugin(block("postmap", module="PostfixMap", db_file=str(path), **settings))

    return build


def request(ip: str, session: Session | None = None) -> Request:
    return Request({"instance": "abcd", "client_address": ip}, {} if session is None else session)


@pytest.mark.parametrize(
    "ip", ["123.123.123.123", "123.123.124.1", "fe80::250:56ff:fe85:56f5", "fe81::250:56ff:eeee:ffff"]
)
async def test_postfix_map_matches_address_or_prefix(postfix_map: Callable[..., Plugin], ip: str) -> None:
    assert await postfix_map(match_action="dunno").run(request(ip)) == DUNNO


@pytest.mark.parametrize("ip", ["192.168.0.0", "10.1.2.3", "fe82:1::1", "fe83::1"])
async def test_postfix_map_entries_other_than_ok_or_number_do_not_match(
    postfix_map: Callable[..., Plugin], ip: str
) -> None:
    assert await postfix_map(match_action="dunno").run(request(ip)) == []


async def test_postfix_map_not_match_action(postfix_map: Callable[..., Plugin]) -> None:
    plugin = postfix_map(not_match_action="reject no access granted")
    assert await plugin.run(request("192.168.0.1")) == [PluginResult("reject no access granted", abort=True)]


async def test_postfix_map_scores_once_per_mail(postfix_map: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    plugin = postfix_map(score="5")
    for _ in range(2):
        assert await plugin.run(request("123.123.123.123", session)) == []
    assert session["score"] == 5
    assert session["postmap-result"] == [1, "123.123.123.123", "OK"]


async def test_postfix_map_disabled_and_enabled_per_user(postfix_map: Callable[..., Plugin]) -> None:
    plugin = postfix_map(enabled="off", uc_enabled="list", match_action="dunno")
    assert await answer(plugin, request("123.123.123.123")) == []
    assert await answer(plugin, request("123.123.123.123", {"list": "on"})) == DUNNO


async def test_postfix_map_without_client_address_does_nothing(postfix_map: Callable[..., Plugin]) -> None:
    assert await postfix_map(not_match_action="reject").run(Request({}, {})) == []


async def test_postfix_map_invalid_address_fails(postfix_map: Callable[..., Plugin]) -> None:
    with pytest.raises(ValueError, match="neither a valid ipv4 nor ipv6"):
        await postfix_map().run(request("FE80::1"))


async def test_postfix_map_trailing_colon_does_not_hang(postfix_map: Callable[..., Plugin]) -> None:
    assert await postfix_map(match_action="dunno").run(request("fe84::")) == []
