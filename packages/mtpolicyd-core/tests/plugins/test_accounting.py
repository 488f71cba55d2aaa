from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.accounting import time_key
from mtpolicyd_core.request import Request, Session
from sqlalchemy.engine import Engine

from plugins.chain_answer import answer
from plugins.connection_fakes import build, pool_of, sqlite_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return sqlite_engine(tmp_path / "acct.db")


@pytest.fixture
def accounting(block: Callable[..., Block], engine: Engine) -> Callable[..., Awaitable[Plugin]]:
    async def make(**settings: str) -> Plugin:
        settings.setdefault("fields", "client_address,sender,recipient")
        return await build(block("acct", module="Accounting", **settings), pool_of(db=("Sql", engine)))

    return make


def rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        return [
            tuple(row)
            for row in conn.exec_driver_sql(
                f'SELECT "key", "time", count, count_rcpt, size, size_rcpt FROM "{table}" ORDER BY "key"'
            )
        ]


ATTRS = {
    "client_address": "192.168.0.1",
    "sender": "sender@testdomain.de",
    "recipient": "rcpt@mydomain.de",
    "size": "13371",
    "recipient_count": "0",
}


async def test_accounting_creates_one_table_per_field_at_start(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    await accounting()
    for table in ("acct_client_address", "acct_sender", "acct_recipient"):
        assert rows(engine, table) == []


async def test_accounting_counts_mails_per_key_and_period(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    plugin = await accounting()
    for _ in range(11):
        assert await plugin.run(Request(ATTRS, None)) == []
    period = time_key("%Y-%m")
    assert rows(engine, "acct_client_address") == [("192.168.0.1", period, 11, 11, 147081, 147081)]
    assert len(rows(engine, "acct_sender")) == 1


async def test_accounting_multiplies_size_by_recipient_count(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    plugin = await accounting(fields="client_address")
    for _ in range(10):
        await plugin.run(Request({**ATTRS, "recipient_count": "10"}, None))
    assert rows(engine, "acct_client_address")[0][2:] == (10, 100, 133710, 1337100)


async def test_accounting_once_per_mail(accounting: Callable[..., Awaitable[Plugin]], engine: Engine) -> None:
    plugin = await accounting(fields="sender")
    session: Session = {}
    await plugin.run(Request(ATTRS, session))
    await plugin.run(Request(ATTRS, session))
    assert rows(engine, "acct_sender")[0][2] == 1


async def test_accounting_skips_empty_fields(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    await (await accounting()).run(Request({**ATTRS, "sender": " "}, None))
    assert rows(engine, "acct_sender") == []
    assert len(rows(engine, "acct_recipient")) == 1


async def test_accounting_time_pattern_and_table_prefix(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    await (await accounting(fields="sender", time_pattern="fixed-%Y", table_prefix="t_")).run(
        Request(ATTRS, None)
    )
    assert rows(engine, "t_sender")[0][1] == time_key("fixed-%Y")


async def test_accounting_without_size_counts_zero(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    await (await accounting(fields="sender")).run(Request({"sender": "a@b"}, None))
    assert rows(engine, "acct_sender")[0][2:] == (1, 1, 0, 0)


async def test_accounting_disabled_by_user_config(
    accounting: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    await answer((await accounting(fields="sender", uc_enabled="acct")), Request(ATTRS, {"acct": "off"}))
    assert rows(engine, "acct_sender") == []


async def test_accounting_requires_fields(block: Callable[..., Block], engine: Engine) -> None:
    with pytest.raises(ConfigError, match="required option fields is missing"):
        await build(block("acct", module="Accounting"), pool_of(db=("Sql", engine)))
