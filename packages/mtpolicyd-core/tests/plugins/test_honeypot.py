import pytest
from connection_fakes import FakeMemcached, build, pool_of
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

REJECT = [PluginResult("reject trapped by honeypod", abort=True)]


@pytest.fixture
def memcached():
    return FakeMemcached()


@pytest.fixture
def honeypot(block, memcached):
    def make(*nested, dialect="2", **settings):
        settings.setdefault("recipients", "trap@example.com, spamtrap@example.com")
        return build(
            block("honeypot", *nested, module="Honeypot", **settings),
            pool_of(memcached=("Memcached", memcached)),
            dialect,
        )

    return make


def request(recipient, client="192.0.2.1", session=None):
    return Request({"client_address": client, "recipient": recipient}, session)


@pytest.mark.parametrize("dialect", ["1", "2"])
def test_honeypot_traps_client_for_all_its_mail(honeypot, memcached, dialect):
    plugin = honeypot(dialect=dialect)
    assert plugin.run(request("user@example.com")) == []
    assert plugin.run(request("spamtrap@example.com")) == REJECT
    assert plugin.run(request("user@example.com")) == REJECT
    assert plugin.run(request("user@example.com", client="192.0.2.2")) == []
    assert 7190 < memcached.ttl("honeypot,192.0.2.1") <= 7200


def test_honeypot_recipient_regexes(honeypot):
    plugin = honeypot(recipients="", recipients_re=r"^trap-\d+@, @spam\.example$", reject_message="go away")
    assert plugin.run(request("trap-12@example.com")) == [PluginResult("reject go away", abort=True)]
    assert plugin.run(request("x@spam.example", client="192.0.2.2")) == [
        PluginResult("reject go away", abort=True)
    ]
    assert plugin.run(request("trap-x@example.com", client="192.0.2.3")) == []


def test_honeypot_expire_sets_how_long_clients_stay_trapped(honeypot, memcached):
    honeypot(expire="60").run(request("trap@example.com"))
    assert 50 < memcached.ttl("honeypot,192.0.2.1") <= 60


def test_honeypot_passive_mode_scores_once_per_mail_and_runs_nested_chain(honeypot, block):
    plugin = honeypot(block("act", module="Action", action="defer trapped"), mode="passive", score="10")
    session = {}
    assert plugin.run(request("trap@example.com", session=session)) == [
        PluginResult("defer trapped", abort=True)
    ]
    plugin.run(request("x@example.com", session=session))
    assert session["score"] == 10


def test_honeypot_disabled(honeypot):
    assert honeypot(enabled="off").run(request("trap@example.com")) == []
