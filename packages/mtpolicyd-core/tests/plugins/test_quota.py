import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mtpolicyd_core.chain import PluginChain, build_chain
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from sqlalchemy.engine import Engine

from plugins.chain_answer import answer
from plugins.connection_fakes import build, pool_of, sqlite_engine

ATTRS = {"client_address": "192.168.0.1", "sender": "s@example.com", "size": "100", "recipient_count": "2"}
DEFER = [PluginResult("defer smtp traffic quota has been exceeded", abort=True)]


@pytest.fixture
async def pool(tmp_path: Path, block: Callable[..., Block]) -> ConnectionPool:
    pool = pool_of(db=("Sql", sqlite_engine(tmp_path / "quota.db")))
    accounting = await build(block("acct", module="Accounting", fields="client_address"), pool)
    for _ in range(11):
        await accounting.run(Request(ATTRS, None))
    return pool


@pytest.fixture
def quota(block: Callable[..., Block], pool: ConnectionPool) -> Callable[..., Awaitable[Plugin]]:
    async def make(**settings: str) -> Plugin:
        settings.setdefault("field", "client_address")
        settings.setdefault("metric", "count")
        return await build(block("quota", module="Quota", **settings), pool)

    return make


async def test_quota_fires_when_metric_reaches_threshold(quota: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await quota(threshold="12")).run(Request(ATTRS, {})) == []
    assert await (await quota(threshold="11")).run(Request(ATTRS, {})) == DEFER


async def test_quota_metric_selects_the_column(quota: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await quota(metric="size_rcpt", threshold="2200")).run(Request(ATTRS, {})) == DEFER
    assert await (await quota(metric="size_rcpt", threshold="2201")).run(Request(ATTRS, {})) == []


async def test_quota_action_is_configurable(quota: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await quota(threshold="1", action="reject too much")
    assert await plugin.run(Request(ATTRS, {})) == [PluginResult("reject too much", abort=True)]


async def test_quota_user_config_overrides_threshold(quota: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await quota(threshold="1000", uc_threshold="my_limit")
    assert await plugin.run(Request(ATTRS, {"my_limit": "5"})) == DEFER


async def test_quota_unknown_key_counts_as_zero(quota: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await quota(threshold="1")).run(Request({"client_address": "10.0.0.1"}, {})) == []
    assert await (await quota(threshold="0")).run(Request({"client_address": "10.0.0.1"}, {})) == DEFER


async def test_quota_empty_field_skips_the_check(quota: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await quota(threshold="0")).run(Request({"client_address": ""}, {})) == []


async def test_quota_disabled(quota: Callable[..., Awaitable[Plugin]]) -> None:
    assert await answer((await quota(threshold="0", enabled="off")), Request(ATTRS, {})) == []


async def test_quota_unaccounted_field_fails_the_plugin(quota: Callable[..., Awaitable[Plugin]]) -> None:
    with pytest.raises(Exception, match="no such table"):
        await (await quota(field="sender", threshold="1")).run(Request(ATTRS, {}))


# -- a Quota right before its Accounting counts the mail as it lets it pass (decision 0012) ---------

SENDER_MAIL = {"sender": "s@example.com", "size": "100", "recipient_count": "2"}


class CountedChain:
    """Builds chains of the given blocks on one SQLite database, started (tables created); and its rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pool = pool_of(db=("Sql", engine))
        self.warnings: list[str] = []

    async def __call__(self, *blocks: Block) -> PluginChain:
        context = PluginContext("test", "2", self.pool, build_chain, self.warnings)
        chain = build_chain(list(blocks), context)
        await chain.startup()
        return chain

    def rows(self, table: str = "acct_sender") -> list[tuple[Any, ...]]:
        with self.engine.begin() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(f'SELECT "key", count, size FROM "{table}"')]


@pytest.fixture
def counted_chain(tmp_path: Path) -> CountedChain:
    """A chain of the given blocks on one SQLite database, started (tables created); and its rows."""
    return CountedChain(sqlite_engine(tmp_path / "admission.db"))


def sender_quota(
    block: Callable[..., Block], threshold: int, name: str = "quota", metric: str = "count"
) -> Block:
    return block(name, module="Quota", field="sender", metric=metric, threshold=str(threshold))


async def test_a_quota_of_n_lets_exactly_n_of_many_concurrent_mails_through(
    counted_chain: CountedChain, block: Callable[..., Block]
) -> None:
    chain = await counted_chain(sender_quota(block, 3), block("acct", module="Accounting", fields="sender"))
    results = await asyncio.gather(*(chain.run(Request(SENDER_MAIL, {})) for _ in range(12)))
    passed = [result for result in results if not result.plugin_results]
    assert len(passed) == 3
    assert all(result.plugin_results == DEFER for result in results if result.plugin_results)
    assert counted_chain.rows() == [("s@example.com", 3, 300)]  # counted once each, by the quota


async def test_a_quota_separated_from_its_accounting_warns_that_parallel_mails_may_pass(
    counted_chain: CountedChain, block: Callable[..., Block]
) -> None:
    await counted_chain(
        sender_quota(block, 3),
        block("tag", module="Action", action="PREPEND X-Test: 1"),
        block("acct", module="Accounting", fields="sender"),
    )
    assert any(
        "mails checked at the same time may all pass the quota" in text for text in counted_chain.warnings
    )


async def test_a_refusing_later_quota_gives_back_what_an_earlier_one_counted(
    counted_chain: CountedChain, block: Callable[..., Block]
) -> None:
    chain = await counted_chain(
        sender_quota(block, 10),
        block("client-quota", module="Quota", field="client_address", metric="count", threshold="0"),
        block("acct", module="Accounting", fields="sender,client_address"),
    )
    result = await chain.run(Request({**SENDER_MAIL, "client_address": "192.0.2.1"}, {}))
    assert result.plugin_results == DEFER
    assert counted_chain.rows() == [("s@example.com", 0, 0)]  # counted, then given back
    assert counted_chain.rows("acct_client_address") == []


async def test_two_quotas_on_one_row_count_the_mail_once(
    counted_chain: CountedChain, block: Callable[..., Block]
) -> None:
    chain = await counted_chain(
        sender_quota(block, 10),
        sender_quota(block, 250, name="size-quota", metric="size"),
        block("acct", module="Accounting", fields="sender"),
    )
    answers = [(await chain.run(Request(SENDER_MAIL, {}))).plugin_results for _ in range(4)]
    # size before each mail: 0, 100, 200 pass; 300 >= 250 refuses the fourth (as the original)
    assert answers == [[], [], [], DEFER]
    assert counted_chain.rows() == [("s@example.com", 3, 300)]


async def test_a_mail_accounted_before_is_only_checked(
    counted_chain: CountedChain, block: Callable[..., Block]
) -> None:
    chain = await counted_chain(sender_quota(block, 1), block("acct", module="Accounting", fields="sender"))
    session: dict[str, object] = {}
    assert (await chain.run(Request(SENDER_MAIL, session))).plugin_results == []
    # the same mail again (another recipient): counted already; 1 >= 1 answers as the original does
    assert (await chain.run(Request(SENDER_MAIL, session))).plugin_results == DEFER
    assert counted_chain.rows() == [("s@example.com", 1, 100)]
