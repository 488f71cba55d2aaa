import re
import time

import pytest
from connection_fakes import FakeMemcached, FakeRedis, build, pool_of, sqlite_engine
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugins.greylist import sender_domain
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

ATTRS = {"client_address": "192.168.0.1", "sender": "newsender@domain.de", "recipient": "rcpt@mydomain.de"}
TICKET = "newsender@domain.de,192.168.0.1,rcpt@mydomain.de"
DEFER = [PluginResult("defer greylisting is active", abort=True)]
WAIT = re.compile(r"defer greylisting is active \((\d+)s left\)")


def backend(kind, **settings):
    where = Location("test.conf", 1)
    return Block(kind, None, where, tuple(Setting(key, value, where) for key, value in settings.items()))


@pytest.fixture
def stores(tmp_path):
    return {"db": sqlite_engine(tmp_path / "gl.db"), "memcached": FakeMemcached(), "redis": FakeRedis()}


@pytest.fixture
def greylist(block, stores):
    def make(*backends, dialect="2", warnings=None, **settings):
        pool = pool_of(
            db=("Sql", stores["db"]),
            memcached=("Memcached", stores["memcached"]),
            redis=("Redis", stores["redis"]),
        )
        return build(block("greylist", *backends, module="Greylist", **settings), pool, dialect, warnings)

    return make


def timewarp(store, key=TICKET):
    """Make the ticket valid, as the upstream test does with memcached decr."""
    store.set(key, str(int(time.time()) - 1), 100)


def awl_rows(engine):
    with engine.begin() as conn:
        return [
            tuple(row) for row in conn.exec_driver_sql("SELECT sender_domain, client_ip, count FROM autowl")
        ]


def cycle(plugin, store, session_factory=lambda: None):
    """First attempt, early retry, retry after the wait: the answers."""
    first = plugin.run(Request(ATTRS, session_factory()))
    early = plugin.run(Request(ATTRS, session_factory()))
    timewarp(store)
    passed = plugin.run(Request(ATTRS, session_factory()))
    return first, early, passed


@pytest.mark.parametrize("dialect", ["1", "2"])
def test_greylist_defers_first_and_early_attempts_then_passes(greylist, stores, dialect):
    plugin = greylist(dialect=dialect)
    first, early, passed = cycle(plugin, stores["memcached"])
    assert first == DEFER
    assert 295 <= int(WAIT.fullmatch(early[0].action).group(1)) <= 300
    assert early[0].abort
    assert passed == []
    assert stores["memcached"].get(TICKET) is None
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]


@pytest.mark.parametrize("dialect", ["1", "2"])
def test_greylist_autowl_skips_greylisting_after_threshold_passes(greylist, stores, dialect):
    plugin = greylist(dialect=dialect, autowl_threshold="2")
    for _ in range(2):
        cycle(plugin, stores["memcached"])
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 2)]
    assert plugin.run(Request(ATTRS, None)) == []
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 3)]
    assert stores["memcached"].get(TICKET) is None


def test_greylist_ticket_lives_max_retry_wait(greylist, stores):
    greylist().run(Request(ATTRS, None))
    assert 7190 < stores["memcached"].ttl(TICKET) <= 7200


def test_greylist_1x_retry_waits_are_options(greylist, stores):
    plugin = greylist(dialect="1", min_retry_wait="60", max_retry_wait="600")
    plugin.run(Request(ATTRS, None))
    assert 590 < stores["memcached"].ttl(TICKET) <= 600
    assert int(WAIT.fullmatch(plugin.run(Request(ATTRS, None))[0].action).group(1)) <= 60


def test_greylist_2x_ignores_retry_wait_options_like_2_05(greylist, stores):
    plugin = greylist(min_retry_wait="60")
    plugin.run(Request(ATTRS, None))
    assert int(WAIT.fullmatch(plugin.run(Request(ATTRS, None))[0].action).group(1)) > 290


def test_greylist_append_waittime_off(greylist):
    plugin = greylist(append_waittime="0")
    plugin.run(Request(ATTRS, None))
    assert plugin.run(Request(ATTRS, None)) == DEFER


def test_greylist_custom_defer_message(greylist):
    assert greylist(defer_message="defer come back later").run(Request(ATTRS, None)) == [
        PluginResult("defer come back later", abort=True)
    ]


@pytest.mark.parametrize("mode", ["accept", "dunno"])
def test_greylist_mode_answers_on_pass_and_score_is_added_once(greylist, stores, mode):
    plugin = greylist(mode=mode, score="-5")
    session = {}
    plugin.run(Request(ATTRS, None))
    timewarp(stores["memcached"])
    assert plugin.run(Request(ATTRS, session)) == [PluginResult(mode, abort=True)]
    assert session["score"] == -5


def test_greylist_create_ticket_off_only_checks(greylist, stores):
    assert greylist(create_ticket="0").run(Request(ATTRS, None)) == []
    assert stores["memcached"].get(TICKET) is None


def test_greylist_disabled_by_user_config(greylist):
    assert greylist(uc_enabled="gl").run(Request(ATTRS, {"gl": "off"})) == []


def test_greylist_2x_with_session_reads_the_cached_autowl_lookup_as_a_count_like_2_05(greylist, stores):
    """2.05 reads the number of cached values (0 or 1) as the count: with sessions no SQL row is created."""
    plugin = greylist(autowl_threshold="1")
    first, _early, passed = cycle(plugin, stores["memcached"], dict)
    assert (first, passed) == (DEFER, [])
    assert awl_rows(stores["db"]) == []


def test_greylist_1x_with_session_counts_autowl_rows(greylist, stores):
    plugin = greylist(dialect="1", autowl_threshold="1")
    cycle(plugin, stores["memcached"], dict)
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]
    assert plugin.run(Request(ATTRS, {})) == []


def test_greylist_1x_removes_an_expired_autowl_row_on_lookup(greylist, stores):
    plugin = greylist(dialect="1", autowl_threshold="1")
    cycle(plugin, stores["memcached"])
    with stores["db"].begin() as conn:
        conn.exec_driver_sql("UPDATE autowl SET last_seen=1")
    assert plugin.run(Request(ATTRS, None)) == DEFER
    assert awl_rows(stores["db"]) == []


def test_greylist_cron_hourly_expires_old_autowl_rows(greylist, stores):
    plugin = greylist(dialect="1")
    cycle(plugin, stores["memcached"])
    with stores["db"].begin() as conn:
        conn.exec_driver_sql("INSERT INTO autowl VALUES (NULL, 'old.de', '10.0.0.1', 5, 1)")
    plugin.cron(["daily"])
    assert len(awl_rows(stores["db"])) == 2
    plugin.cron(["hourly"])
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]


def test_greylist_2x_redis_stores(greylist, stores):
    plugin = greylist(backend("AWL", module="Redis"), backend("Ticket", module="Redis"))
    assert plugin.run(Request(ATTRS, None)) == DEFER
    assert stores["redis"].get(TICKET) is not None
    assert stores["memcached"].get(TICKET) is None
    timewarp(stores["redis"])
    assert plugin.run(Request(ATTRS, None)) == []
    assert stores["redis"].get("awl-,domain.de,192.168.0.1") == b"1"
    plugin.cron(["hourly"])


def test_greylist_2x_backend_block_options_are_ignored_with_a_warning(greylist):
    warnings = []
    greylist(backend("AWL", module="Sql", autowl_table="other"), warnings=warnings)
    assert any("option autowl_table ignored" in warning for warning in warnings)


def test_greylist_2x_backend_block_needs_a_module(greylist):
    with pytest.raises(ConfigError, match="module must be specified for Ticket backend!"):
        greylist(backend("Ticket", prefix="x"))


def test_greylist_2x_unknown_backend_module(greylist):
    with pytest.raises(ConfigError, match="could not load AWL backend: unknown module Memcached"):
        greylist(backend("AWL", module="Memcached"))


def test_greylist_2x_missing_ticket_connection_fails_at_start(block, stores):
    pool = pool_of(db=("Sql", stores["db"]))
    with pytest.raises(ConfigError, match="no connection memcached configured!"):
        build(block("greylist", module="Greylist"), pool)


@pytest.mark.parametrize(
    ("sender", "domain"),
    [("a@b.de", "b.de"), ("b.de", "b.de"), ("a@b@c.de", "c.de"), ("a@", None), ("", ""), (None, None)],
)
def test_sender_domain_is_the_part_after_the_last_at(sender, domain):
    assert sender_domain(sender) == domain
