import pytest
from chain_answer import answer
from connection_fakes import FakeMemcached, build, pool_of
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

REJECT = [PluginResult("reject trapped by honeypod", abort=True)]


@pytest.fixture
def memcached():
    return FakeMemcached()


@pytest.fixture
def honeypot(block, memcached):
    async def make(*nested, dialect="2", **settings):
        settings.setdefault("recipients", "trap@example.com, spamtrap@example.com")
        return await build(
            block("honeypot", *nested, module="Honeypot", **settings),
            pool_of(memcached=("Memcached", memcached)),
            dialect,
        )

    return make


def request(recipient, client="192.0.2.1", session=None):
    return Request({"client_address": client, "recipient": recipient}, session)


@pytest.mark.parametrize("dialect", ["1", "2"])
async def test_honeypot_traps_client_for_all_its_mail(honeypot, memcached, dialect):
    plugin = await honeypot(dialect=dialect)
    assert await plugin.run(request("user@example.com")) == []
    assert await plugin.run(request("spamtrap@example.com")) == REJECT
    assert await plugin.run(request("user@example.com")) == REJECT
    assert await plugin.run(request("user@example.com", client="192.0.2.2")) == []
    assert 7190 < memcached.ttl("honeypot,192.0.2.1") <= 7200


async def test_honeypot_recipient_regexes(honeypot):
    plugin = await honeypot(
        recipients="", recipients_re=r"^trap-\d+@, @spam\.example$", reject_message="go away"
    )
    assert await plugin.run(request("trap-12@example.com")) == [PluginResult("reject go away", abort=True)]
    assert await plugin.run(request("x@spam.example", client="192.0.2.2")) == [
        PluginResult("reject go away", abort=True)
    ]
    assert await plugin.run(request("trap-x@example.com", client="192.0.2.3")) == []


async def test_honeypot_expire_sets_how_long_clients_stay_trapped(honeypot, memcached):
    await (await honeypot(expire="60")).run(request("trap@example.com"))
    assert 50 < memcached.ttl("honeypot,192.0.2.1") <= 60


async def test_honeypot_passive_mode_scores_once_per_mail_and_runs_nested_chain(honeypot, block):
    plugin = await honeypot(block("act", module="Action", action="defer trapped"), mode="passive", score="10")
    session = {}
    assert await plugin.run(request("trap@example.com", session=session)) == [
        PluginResult("defer trapped", abort=True)
    ]
    await plugin.run(request("x@example.com", session=session))
    assert session["score"] == 10


async def test_honeypot_disabled(honeypot):
    assert await answer((await honeypot(enabled="off")), request("trap@example.com")) == []
