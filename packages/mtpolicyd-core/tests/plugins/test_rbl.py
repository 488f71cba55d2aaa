from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from dns_fakes import FakeDnsServer, fake_dns
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

ZONE = {
    ("4.0.0.127.zen.test.", "A"): ["127.0.0.4"],
    ("4.0.0.127.zen.test.", "TXT"): ['"https://www.spamhaus.org/query/ip/127.0.0.4"'],
    ("10.0.0.127.zen.test.", "A"): ["127.0.0.10"],
}
REJECT_XBL = PluginResult(
    "reject delivery from 127.0.0.4 rejected (https://www.spamhaus.org/query/ip/127.0.0.4)", abort=True
)


@dataclass
class RblBuilder:
    """Builds RBL plugins asking the fake DNS server ``server``."""

    block: Callable[..., Block]
    build_plugin: Callable[..., Plugin]
    server: FakeDnsServer

    def __call__(self, **settings: str) -> Plugin:
        settings.setdefault("domain", "zen.test")
        return self.build_plugin(self.block("sh-rbl", module="RBL", **settings))


@pytest.fixture
def rbl(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], monkeypatch: pytest.MonkeyPatch
) -> Iterator[RblBuilder]:
    with fake_dns(monkeypatch, ZONE) as server:
        yield RblBuilder(block, build_plugin, server)


def request(ip: str, session: Session | None = None, caching: bool = True) -> Request:
    return Request({"instance": "abcd", "client_address": ip}, {} if session is None else session, caching)


async def test_rbl_unlisted_address_passes(rbl: RblBuilder) -> None:
    assert await rbl().run(request("127.0.0.1")) == []


async def test_rbl_rejects_listed_address_with_txt_info(rbl: RblBuilder) -> None:
    session: dict[str, object] = {}
    assert await rbl(score="5").run(request("127.0.0.4", session)) == [REJECT_XBL]
    assert session["score"] == 5
    assert session["score_detail"] == "sh-rbl=5"


async def test_rbl_info_is_left_out_without_txt(rbl: RblBuilder) -> None:
    plugin = rbl(reject_message="%INFO%listed %IP% %IP%")
    assert await plugin.run(request("127.0.0.10")) == [
        PluginResult("reject listed 127.0.0.10 %IP%", abort=True)
    ]


async def test_rbl_accept_mode_answers_dunno(rbl: RblBuilder) -> None:
    assert await rbl(mode="accept").run(request("127.0.0.4")) == [PluginResult.dunno()]


async def test_rbl_passive_mode_only_scores_once_per_mail(rbl: RblBuilder) -> None:
    plugin = rbl(mode="passive", score="2.5")
    session: dict[str, object] = {}
    assert await plugin.run(request("127.0.0.4", session)) == []
    assert await plugin.run(request("127.0.0.4", session)) == []
    assert session["score"] == 2.5


async def test_rbl_scores_on_every_request_without_caching(rbl: RblBuilder) -> None:
    plugin = rbl(mode="passive", score="5")
    session: dict[str, object] = {}
    for _ in range(3):
        await plugin.run(request("127.0.0.4", session, caching=False))
    assert session["score"] == 15


async def test_rbl_caches_answer_in_session_once_per_mail(rbl: RblBuilder) -> None:
    plugin = rbl()
    session: dict[str, object] = {}
    await plugin.run(request("127.0.0.4", session))
    await plugin.run(request("127.0.0.4", session))
    assert session["rbl-sh-rbl-result"] == ["127.0.0.4", "https://www.spamhaus.org/query/ip/127.0.0.4"]
    assert rbl.server.queries.count(("4.0.0.127.zen.test.", "A")) == 1


async def test_rbl_caches_not_listed_as_empty_list(rbl: RblBuilder) -> None:
    session: dict[str, object] = {}
    await rbl().run(request("127.0.0.1", session))
    assert session["rbl-sh-rbl-result"] == []


async def test_rbl_disabled_per_user(rbl: RblBuilder) -> None:
    plugin = rbl(uc_enabled="spamhaus")
    assert await answer(plugin, request("127.0.0.4", {"spamhaus": "off"})) == []
    assert await answer(plugin, request("127.0.0.4", {"spamhaus": "on"})) == [REJECT_XBL]


async def test_rbl_mode_overridden_per_user(rbl: RblBuilder) -> None:
    plugin = rbl(uc_mode="rbl_mode")
    assert await plugin.run(request("127.0.0.4", {"rbl_mode": "passive"})) == []


async def test_rbl_fails_without_client_address(rbl: RblBuilder) -> None:
    with pytest.raises(ValueError):
        await rbl().run(Request({"instance": "abcd"}, {}))


async def test_rbl_ipv6_client_is_not_listed(rbl: RblBuilder) -> None:
    assert await rbl().run(request("2001:db8::4")) == []


async def test_rbl_dns_failure_counts_as_not_listed(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_dns(monkeypatch, ZONE, silent=True):
        plugin = build_plugin(block("sh-rbl", module="RBL", domain="zen.test"))
        assert await plugin.run(request("127.0.0.4")) == []
