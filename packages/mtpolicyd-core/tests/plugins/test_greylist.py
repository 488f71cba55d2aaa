import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

import pytest
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.greylist import sender_domain
from mtpolicyd_core.plugins.greylist.awl import SqlAwl
from mtpolicyd_core.plugins.greylist.ticket import is_valid
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from plugins.chain_answer import answer
from plugins.connection_fakes import FakeKeyValue, FakeMemcached, FakeRedis, build, pool_of, sqlite_engine

ATTRS = {"client_address": "192.168.0.1", "sender": "newsender@domain.de", "recipient": "rcpt@mydomain.de"}
TICKET = "newsender@domain.de,192.168.0.1,rcpt@mydomain.de"
DEFER = [PluginResult("defer greylisting is active", abort=True)]
WAIT = re.compile(r"defer greylisting is active \((\d+)s left\)")


def backend(kind: str, **settings: str) -> Block:
    where = Location("test.conf", 1)
    return Block(kind, None, where, tuple(Setting(key, value, where) for key, value in settings.items()))


class Stores(TypedDict):
    """The back-ends a greylist test can choose from."""

    db: Engine
    memcached: FakeMemcached
    redis: FakeRedis


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return {"db": sqlite_engine(tmp_path / "gl.db"), "memcached": FakeMemcached(), "redis": FakeRedis()}


@pytest.fixture
def greylist(block: Callable[..., Block], stores: Stores) -> Callable[..., Awaitable[Plugin]]:
    async def make(
        *backends: Block, dialect: str = "2", warnings: list[str] | None = None, **settings: str
    ) -> Plugin:
        pool = pool_of(
            db=("Sql", stores["db"]),
            memcached=("Memcached", stores["memcached"]),
            redis=("Redis", stores["redis"]),
        )
        return await build(
            block("greylist", *backends, module="Greylist", **settings), pool, dialect, warnings
        )

    return make


def wait_seconds(result: PluginResult) -> int:
    """The seconds left that a greylisting deferral states."""
    found = WAIT.fullmatch(result.action or "")
    if found is None:
        raise AssertionError(f"not a greylisting deferral: {result.action!r}")
    return int(found.group(1))


def timewarp(store: FakeKeyValue, key: str = TICKET) -> None:
    """Make the ticket valid, as the upstream test does with memcached decr."""
    store.data[key] = (str(int(time.time()) - 1).encode(), time.time() + 100)


def awl_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        return [
            tuple(row) for row in conn.exec_driver_sql("SELECT sender_domain, client_ip, count FROM autowl")
        ]


async def cycle(
    plugin: Plugin, store: FakeKeyValue, session_factory: Callable[[], Session | None] = lambda: None
) -> tuple[list[PluginResult], list[PluginResult], list[PluginResult]]:
    """First attempt, early retry, retry after the wait: the answers."""
    first = await plugin.run(Request(ATTRS, session_factory()))
    early = await plugin.run(Request(ATTRS, session_factory()))
    timewarp(store)
    passed = await plugin.run(Request(ATTRS, session_factory()))
    return first, early, passed


@pytest.mark.parametrize("dialect", ["1", "2"])
async def test_greylist_defers_first_and_early_attempts_then_passes(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores, dialect: str
) -> None:
    plugin = await greylist(dialect=dialect)
    first, early, passed = await cycle(plugin, stores["memcached"])
    assert first == DEFER
    assert 295 <= wait_seconds(early[0]) <= 300
    assert early[0].abort
    assert passed == []
    assert stores["memcached"].value(TICKET) is None
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]


@pytest.mark.parametrize("dialect", ["1", "2"])
async def test_greylist_autowl_skips_greylisting_after_threshold_passes(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores, dialect: str
) -> None:
    plugin = await greylist(dialect=dialect, autowl_threshold="2")
    for _ in range(2):
        await cycle(plugin, stores["memcached"])
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 2)]
    assert await plugin.run(Request(ATTRS, None)) == []
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 3)]
    assert stores["memcached"].value(TICKET) is None


async def test_greylist_ticket_lives_max_retry_wait(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    await (await greylist()).run(Request(ATTRS, None))
    assert 7190 < stores["memcached"].expires_in(TICKET) <= 7200


async def test_greylist_1x_retry_waits_are_options(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    plugin = await greylist(dialect="1", min_retry_wait="60", max_retry_wait="600")
    await plugin.run(Request(ATTRS, None))
    assert 590 < stores["memcached"].expires_in(TICKET) <= 600
    assert wait_seconds((await plugin.run(Request(ATTRS, None)))[0]) <= 60


async def test_greylist_2x_ignores_retry_wait_options_like_2_05(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    plugin = await greylist(min_retry_wait="60")
    await plugin.run(Request(ATTRS, None))
    assert wait_seconds((await plugin.run(Request(ATTRS, None)))[0]) > 290


async def test_greylist_append_waittime_off(greylist: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await greylist(append_waittime="0")
    await plugin.run(Request(ATTRS, None))
    assert await plugin.run(Request(ATTRS, None)) == DEFER


async def test_greylist_custom_defer_message(greylist: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await greylist(defer_message="defer come back later")).run(Request(ATTRS, None)) == [
        PluginResult("defer come back later", abort=True)
    ]


@pytest.mark.parametrize("mode", ["accept", "dunno"])
async def test_greylist_mode_answers_on_pass_and_score_is_added_once(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores, mode: str
) -> None:
    plugin = await greylist(mode=mode, score="-5")
    session: Session = {}
    await plugin.run(Request(ATTRS, None))
    timewarp(stores["memcached"])
    assert await plugin.run(Request(ATTRS, session)) == [PluginResult(mode, abort=True)]
    assert session["score"] == -5


async def test_greylist_create_ticket_off_only_checks(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    assert await (await greylist(create_ticket="0")).run(Request(ATTRS, None)) == []
    assert stores["memcached"].value(TICKET) is None


async def test_greylist_disabled_by_user_config(greylist: Callable[..., Awaitable[Plugin]]) -> None:
    assert await answer((await greylist(uc_enabled="gl")), Request(ATTRS, {"gl": "off"})) == []


async def test_greylist_2x_with_session_reads_the_cached_autowl_lookup_as_a_count_like_2_05(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    """2.05 reads the number of cached values (0 or 1) as the count: with sessions no SQL row is created."""
    plugin = await greylist(autowl_threshold="1")
    first, _early, passed = await cycle(plugin, stores["memcached"], dict)
    assert (first, passed) == (DEFER, [])
    assert awl_rows(stores["db"]) == []


async def test_greylist_1x_with_session_counts_autowl_rows(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    plugin = await greylist(dialect="1", autowl_threshold="1")
    await cycle(plugin, stores["memcached"], dict)
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]
    assert await plugin.run(Request(ATTRS, {})) == []


async def test_greylist_1x_removes_an_expired_autowl_row_on_lookup(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    plugin = await greylist(dialect="1", autowl_threshold="1")
    await cycle(plugin, stores["memcached"])
    with stores["db"].begin() as conn:
        conn.exec_driver_sql("UPDATE autowl SET last_seen=1")
    assert await plugin.run(Request(ATTRS, None)) == DEFER
    assert awl_rows(stores["db"]) == []


async def test_greylist_cron_hourly_expires_old_autowl_rows(
    greylist: Callable[..., Awaitable[Plugin]], stores: Stores
) -> None:
    plugin = await greylist(dialect="1")
    await cycle(plugin, stores["memcached"])
    with stores["db"].begin() as conn:
        conn.exec_driver_sql("INSERT INTO autowl VALUES (NULL, 'old.de', '10.0.0.1', 5, 1)")
    await plugin.cron(["daily"])
    assert len(awl_rows(stores["db"])) == 2
    await plugin.cron(["hourly"])
    assert awl_rows(stores["db"]) == [("domain.de", "192.168.0.1", 1)]


async def test_greylist_2x_redis_stores(greylist: Callable[..., Awaitable[Plugin]], stores: Stores) -> None:
    plugin = await greylist(backend("AWL", module="Redis"), backend("Ticket", module="Redis"))
    assert await plugin.run(Request(ATTRS, None)) == DEFER
    assert stores["redis"].value(TICKET) is not None
    assert stores["memcached"].value(TICKET) is None
    timewarp(stores["redis"])
    assert await plugin.run(Request(ATTRS, None)) == []
    assert stores["redis"].value("awl-,domain.de,192.168.0.1") == b"1"
    await plugin.cron(["hourly"])


async def test_greylist_2x_backend_block_options_are_ignored_with_a_warning(
    greylist: Callable[..., Awaitable[Plugin]],
) -> None:
    warnings: list[str] = []
    await greylist(backend("AWL", module="Sql", autowl_table="other"), warnings=warnings)
    assert any("option autowl_table ignored" in warning for warning in warnings)


async def test_greylist_2x_backend_block_needs_a_module(greylist: Callable[..., Awaitable[Plugin]]) -> None:
    with pytest.raises(ConfigError, match="module must be specified for Ticket backend!"):
        await greylist(backend("Ticket", prefix="x"))


async def test_greylist_2x_unknown_backend_module(greylist: Callable[..., Awaitable[Plugin]]) -> None:
    with pytest.raises(ConfigError, match="could not load AWL backend: unknown module Memcached"):
        await greylist(backend("AWL", module="Memcached"))


async def test_greylist_2x_missing_ticket_connection_fails_at_start(
    block: Callable[..., Block], stores: Stores
) -> None:
    pool = pool_of(db=("Sql", stores["db"]))
    with pytest.raises(ConfigError, match="no connection memcached configured!"):
        await build(block("greylist", module="Greylist"), pool)


@pytest.mark.parametrize(
    ("sender", "domain"),
    [("a@b.de", "b.de"), ("b.de", "b.de"), ("a@b@c.de", "c.de"), ("a@", None), ("", ""), (None, None)],
)
def test_sender_domain_is_the_part_after_the_last_at(sender: str | None, domain: str | None) -> None:
    assert sender_domain(sender) == domain


async def test_sql_awl_counts_a_pass_when_another_host_created_the_row_first() -> None:
    """MariaDB's autowl table has a unique key: the second host's INSERT fails; it counts its pass."""
    statements = []

    async def run_sql(sql: str, *params: object) -> None:
        statements.append(sql.split(maxsplit=1)[0])
        if sql.startswith("INSERT"):
            raise IntegrityError(sql, params, Exception("Duplicate entry for key 'domain_ip'"))

    await SqlAwl(run_sql).create("example.org", "192.0.2.1")
    assert statements == ["INSERT", "UPDATE"]


def test_a_ticket_is_valid_only_after_its_second_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    # the original compares whole seconds: `time > $ticket`
    monkeypatch.setattr(time, "time", lambda: 1000.5)
    assert not is_valid(1000)
    assert is_valid(999)
