from collections.abc import Awaitable, Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer
from plugins.connection_fakes import FakeMemcached, build, pool_of

REJECT = [PluginResult("reject trapped by honeypod", abort=True)]


@pytest.fixture
def memcached() -> FakeMemcached:
    return FakeMemcached()


@pytest.fixture
def honeypot(block: Callable[..., Block], memcached: FakeMemcached) -> Callable[..., Awaitable[Plugin]]:
    async def make(*nested: Block, dialect: str = "2", **settings: str) -> Plugin:
        settings.setdefault("recipients", "trap@example.com, spamtrap@example.com")
        return await build(
            block("honeypot", *nested, module="Honeypot", **settings),
            pool_of(memcached=("Memcached", memcached)),
            dialect,
        )

    return make


def request(recipient: str, client: str = "192.0.2.1", session: Session | None = None) -> Request:
    return Request({"client_address": client, "recipient": recipient}, session)


@pytest.mark.parametrize("dialect", ["1", "2"])
async def test_honeypot_traps_client_for_all_its_mail(
    honeypot: Callable[..., Awaitable[Plugin]], memcached: FakeMemcached, dialect: str
) -> None:
    plugin = await honeypot(dialect=dialect)
    assert await plugin.run(request("user@example.com")) == []
    assert await plugin.run(request("spamtrap@example.com")) == REJECT
    assert await plugin.run(request("user@example.com")) == REJECT
    assert await plugin.run(request("user@example.com", client="192.0.2.2")) == []
    assert 7190 < memcached.expires_in("honeypot,192.0.2.1") <= 7200


async def test_honeypot_recipient_regexes(honeypot: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await honeypot(
        recipients="", recipients_re=r"^trap-\d+@, @spam\.example$", reject_message="go away"
    )
    assert await plugin.run(request("trap-12@example.com")) == [PluginResult("reject go away", abort=True)]
    assert await plugin.run(request("x@spam.example", client="192.0.2.2")) == [
        PluginResult("reject go away", abort=True)
    ]
    assert await plugin.run(request("trap-x@example.com", client="192.0.2.3")) == []


async def test_honeypot_expire_sets_how_long_clients_stay_trapped(
    honeypot: Callable[..., Awaitable[Plugin]], memcached: FakeMemcached
) -> None:
    await (await honeypot(expire="60")).run(request("trap@example.com"))
    assert 50 < memcached.expires_in("honeypot,192.0.2.1") <= 60


async def test_honeypot_passive_mode_scores_once_per_mail_and_runs_nested_chain(
    honeypot: Callable[..., Awaitable[Plugin]], block: Callable[..., Block]
) -> None:
    plugin = await honeypot(block("act", module="Action", action="defer trapped"), mode="passive", score="10")
    session: Session = {}
    assert await plugin.run(request("trap@example.com", session=session)) == [
        PluginResult("defer trapped", abort=True)
    ]
    await plugin.run(request("x@example.com", session=session))
    assert session["score"] == 10


async def test_honeypot_disabled(honeypot: Callable[..., Awaitable[Plugin]]) -> None:
    assert await answer((await honeypot(enabled="off")), request("trap@example.com")) == []
