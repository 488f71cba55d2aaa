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
    ("dbltest.com.dbl.test.", "A"): ["127.0.1.2"],
    ("dbltest.com.dbl.test.", "TXT"): ['"https://www.spamhaus.org/query/domain/dbltest.com"'],
    ("mail.dbltest.com.dbl.test.", "A"): ["127.0.1.2"],
}
GOOD = {"helo_name": "mx.good.example", "reverse_client_name": "mx.good.example", "sender": "me@good.example"}


@dataclass
class DblBuilder:
    """Builds DBL plugins asking the fake DNS server ``server``."""

    block: Callable[..., Block]
    build_plugin: Callable[..., Plugin]
    server: FakeDnsServer

    def __call__(self, **settings: str) -> Plugin:
        settings.setdefault("domain", "dbl.test")
        return self.build_plugin(self.block("sh-dbl", module="DBL", **settings))


@pytest.fixture
def dbl(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], monkeypatch: pytest.MonkeyPatch
) -> Iterator[DblBuilder]:
    with fake_dns(monkeypatch, ZONE) as server:
        yield DblBuilder(block, build_plugin, server)


def request(session: Session | None = None, **attributes: str) -> Request:
    return Request({"instance": "abcd", **GOOD, **attributes}, {} if session is None else session)


async def test_dbl_unlisted_names_pass(dbl: DblBuilder) -> None:
    assert await dbl().run(request()) == []


async def test_dbl_rejects_listed_reverse_client_name(dbl: DblBuilder) -> None:
    session: dict[str, object] = {}
    assert await dbl().run(request(session, reverse_client_name="mail.dbltest.com")) == [
        PluginResult("reject reverse_client_name rejected (mail.dbltest.com)", abort=True)
    ]
    assert session["score_detail"] == "sh-dbl-reverse_client_name=2.5"


async def test_dbl_rejects_listed_sender_domain_with_info(dbl: DblBuilder) -> None:
    session: dict[str, object] = {}
    assert await dbl().run(request(session, sender="bsnobfvqzz@dbltest.com")) == [
        PluginResult(
            "reject sender rejected (dbltest.com, https://www.spamhaus.org/query/domain/dbltest.com)",
            abort=True,
        )
    ]
    assert session["score"] == 5


async def test_dbl_helo_is_passive_by_default_and_scores_once(dbl: DblBuilder) -> None:
    session: dict[str, object] = {}
    plugin = dbl()
    assert await plugin.run(request(session, helo_name="mail.dbltest.com")) == []
    assert await plugin.run(request(session, helo_name="mail.dbltest.com")) == []
    assert session["score_detail"] == "sh-dbl-helo_name=1"


async def test_dbl_scores_every_listed_check_before_the_rejecting_one(dbl: DblBuilder) -> None:
    session: dict[str, object] = {}
    plugin = dbl(sender_mode="passive")
    result = await plugin.run(
        request(session, sender="a@dbltest.com", reverse_client_name="mail.dbltest.com")
    )
    assert result == [PluginResult("reject reverse_client_name rejected (mail.dbltest.com)", abort=True)]
    assert session["score_detail"] == "sh-dbl-sender=5, sh-dbl-reverse_client_name=2.5"


async def test_dbl_skips_unknown_ip_and_unqualified_names(dbl: DblBuilder) -> None:
    plugin = dbl(helo_name_mode="reject")
    for value in ("unknown", "", "1.2.3.4", "[2001:db8::1]", "localhost"):
        assert await plugin.run(request(helo_name=value, reverse_client_name=value, sender=value)) == []
    assert dbl.server.queries == []


async def test_dbl_fails_when_a_checked_attribute_is_missing(dbl: DblBuilder) -> None:
    with pytest.raises(ValueError, match="helo_name not defined in request!"):
        await dbl().run(Request({"sender": "", "reverse_client_name": ""}, {}))


async def test_dbl_disabled_per_user(dbl: DblBuilder) -> None:
    plugin = dbl(uc_enabled="spamhaus")
    assert await answer(plugin, request({"spamhaus": "off"}, sender="a@dbltest.com")) == []


async def test_dbl_mode_overridden_per_user(dbl: DblBuilder) -> None:
    plugin = dbl(uc_sender_mode="sender_mode")
    assert await plugin.run(request({"sender_mode": "passive"}, sender="a@dbltest.com")) == []


async def test_dbl_info_placeholder_empty_without_txt(dbl: DblBuilder) -> None:
    plugin = dbl(reject_message="%CHECK%:%HOSTNAME%:%INFO%", helo_name_mode="reject")
    assert await plugin.run(request(helo_name="mail.dbltest.com")) == [
        PluginResult("reject helo_name:mail.dbltest.com:", abort=True)
    ]


async def test_dbl_caches_answers_per_check(dbl: DblBuilder) -> None:
    session: dict[str, object] = {}
    await dbl().run(request(session))
    assert session["sh-dbl-sender-result"] == []
    assert set(session) >= {"sh-dbl-reverse_client_name-result", "sh-dbl-helo_name-result"}
