from collections.abc import Callable, Iterator

import pytest
from dns_fakes import fake_dns
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

ZONE = {
    ("fail.test.", "TXT"): ['"v=spf1 ip4:192.0.2.0/24 -all"'],
    ("soft.test.", "TXT"): ['"v=spf1 ~all"'],
    ("pass.test.", "TXT"): ['"v=spf1 ip4:192.168.1.0/24 -all"'],
    ("redir.test.", "TXT"): ['"v=spf1 redirect=fail.test"'],
    ("perm.test.", "TXT"): ['"v=spf1 moo -all"'],
    ("helo.test.", "TXT"): ['"v=spf1 -all"'],
    ("neutral.test.", "TXT"): ['"v=spf1 ?all"'],
}
FAIL_EXPL = (
    "fail.test: Sender is not authorized by default to use 'spf@fail.test' in 'mfrom' identity "
    "(mechanism '-all' matched)"
)


@pytest.fixture
def spf(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Plugin]]:
    with fake_dns(monkeypatch, ZONE):

        def build(dialect: str = "2", **settings: str) -> Plugin:
            return build_plugin(block("spf", module="SPF", **settings), dialect)

        yield build


def request(
    sender: str, ip: str = "192.168.1.1", helo: str = "mx.pass.test", session: Session | None = None
) -> Request:
    attributes = {"client_address": ip, "sender": sender, "helo_name": helo, "instance": "abcd"}
    return Request(attributes, {} if session is None else session)


async def test_spf_fail_rejects_with_local_explanation(spf: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    assert await spf(fail_score="5").run(request("spf@fail.test", session=session)) == [
        PluginResult(f"reject SPF validation failed: {FAIL_EXPL}", abort=True)
    ]
    assert session["score"] == 5


async def test_spf_fail_through_redirect_names_both_domains(spf: Callable[..., Plugin]) -> None:
    [result] = await spf().run(request("spf@redir.test"))
    assert result.action is not None
    assert result.action.startswith("reject SPF validation failed: redir.test ... fail.test: Sender is not")


async def test_spf_pass_scores_and_is_passive_by_default(spf: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    assert await spf(pass_score="-10").run(request("spf@pass.test", session=session)) == []
    assert session["score"] == -10
    assert await spf(pass_mode="dunno").run(request("spf@pass.test")) == [PluginResult.dunno()]


async def test_spf_softfail_passive_by_default_and_rejects_in_reject_mode(spf: Callable[..., Plugin]) -> None:
    assert await spf().run(request("spf@soft.test")) == []
    [result] = await spf(softfail_mode="reject").run(request("spf@soft.test"))
    assert result.action is not None
    assert result.action.endswith(
        "however domain is not currently prepared for false failures (mechanism '~all' matched)"
    )


async def test_spf_softfail_is_ignored_in_1x(spf: Callable[..., Plugin]) -> None:
    assert await spf(dialect="1", softfail_mode="reject").run(request("spf@soft.test")) == []


async def test_spf_permerror_rejects_in_2x_and_is_ignored_in_1x(spf: Callable[..., Plugin]) -> None:
    assert await spf().run(request("spf@perm.test")) == [
        PluginResult(
            "reject spf mfrom check failed: perm.test: Unknown mechanism type 'moo' in 'v=spf1' record",
            abort=True,
        )
    ]
    assert await spf(dialect="1").run(request("spf@perm.test")) == []


async def test_spf_permerror_passive_only_scores(spf: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    assert (
        await spf(permerror_mode="passive", permerror_score="15").run(
            request("spf@perm.test", session=session)
        )
        == []
    )
    assert session["score"] == 15


async def test_spf_error_dunno_is_read_from_temperror_mode(spf: Callable[..., Plugin]) -> None:
    assert await spf(temperror_mode="dunno").run(request("spf@perm.test")) == [PluginResult.dunno()]


async def test_spf_helo_fail_rejects_before_the_sender_check(spf: Callable[..., Plugin]) -> None:
    [result] = await spf().run(request("spf@pass.test", helo="helo.test"))
    assert result.action == (
        "reject SPF validation failed: helo.test: Sender is not authorized by default to use 'helo.test' "
        "in 'helo' identity (mechanism '-all' matched)"
    )
    assert await spf(check_helo="off").run(request("spf@pass.test", helo="helo.test")) == []


async def test_spf_null_sender_is_checked_as_postmaster_at_helo(spf: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    plugin = spf(pass_mode="dunno", pass_score="-1")
    assert await plugin.run(request("", helo="pass.test", session=session)) == [PluginResult.dunno()]
    assert session["score"] == -1


async def test_spf_empty_sender_without_helo_check_fails_like_the_original(
    spf: Callable[..., Plugin],
) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await spf(check_helo="off").run(request("", helo="pass.test"))


async def test_spf_null_sender_without_helo_check_is_skipped(spf: Callable[..., Plugin]) -> None:
    assert (
        await spf(check_helo="off").run(
            Request({"client_address": "192.168.1.1", "helo_name": "fail.test"}, {})
        )
        == []
    )


async def test_spf_neutral_and_none_do_nothing(spf: Callable[..., Plugin]) -> None:
    assert await spf().run(request("spf@neutral.test")) == []
    assert await spf().run(request("spf@nothing.test")) == []


async def test_spf_skips_local_and_whitelisted_clients(spf: Callable[..., Plugin]) -> None:
    assert await spf().run(request("spf@fail.test", ip="127.0.0.1")) == []
    assert await spf(whitelist="192.168.0.0/16, 10.0.0.1").run(request("spf@fail.test")) == []


async def test_spf_without_client_address_does_nothing(spf: Callable[..., Plugin]) -> None:
    assert await spf().run(Request({"sender": "spf@fail.test"}, {})) == []


async def test_spf_auth_expl_uses_default_authority_explanation(spf: Callable[..., Plugin]) -> None:
    plugin = spf(reject_message="%AUTH_EXPL%", hostname="mx.local")
    assert await plugin.run(request("spf@fail.test")) == [
        PluginResult(
            "reject See http://www.fail.test/why/id=spf%40fail.test;ip=192.168.1.1;r=mx.local", abort=True
        )
    ]


async def test_spf_modes_overridden_per_user(spf: Callable[..., Plugin]) -> None:
    plugin = spf(uc_fail_mode="spf_fail", uc_enabled="spf_on")
    assert await answer(plugin, request("spf@fail.test", session={"spf_fail": "passive"})) == []
    assert await answer(plugin, request("spf@fail.test", session={"spf_on": "off"})) == []
