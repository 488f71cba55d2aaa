"""SQL session primitives on SQLite: insert-lock, atomic take-over of expired locks, expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.session import sql
from mtpolicyd_core.session.sql import SqlBackend
from sqlalchemy.exc import OperationalError


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SqlBackend]:
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path}/s.sqlite"}))
    backend = SqlBackend(connection)
    yield backend
    await backend.aclose()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    now = [1_000_000]
    monkeypatch.setattr(sql, "now_ms", lambda: now[0])
    return now


async def test_table_is_created_on_first_use(backend: SqlBackend) -> None:
    assert await backend.get("abc") is None


async def test_lock_is_exclusive_until_deleted_by_its_owner(backend: SqlBackend) -> None:
    assert await backend.add_lock("lock_abc", "one", 10)
    assert not await backend.add_lock("lock_abc", "two", 10)
    await backend.delete_lock("lock_abc", "two")
    assert not await backend.add_lock("lock_abc", "two", 10)
    await backend.delete_lock("lock_abc", "one")
    assert await backend.add_lock("lock_abc", "two", 10)


async def test_expired_lock_is_taken_over_once(backend: SqlBackend, clock: list[int]) -> None:
    await backend.add_lock("lock_abc", "dead", 10)
    clock[0] += 10_001
    assert await backend.add_lock("lock_abc", "second", 10)
    assert not await backend.add_lock("lock_abc", "third", 10)


async def test_value_is_replaced_and_expires(backend: SqlBackend, clock: list[int]) -> None:
    await backend.set("abc", b"one", 300)
    await backend.set("abc", b"two", 300)
    assert await backend.get("abc") == b"two"
    clock[0] += 300_001
    assert await backend.get("abc") is None


async def test_sweep_deletes_expired_rows(backend: SqlBackend, clock: list[int]) -> None:
    await backend.set("old", b"x", 1)
    await backend.set("new", b"y", 300)
    clock[0] += 2000
    await backend.sweep()
    async with backend.transaction() as conn:
        keys = [row[0] for row in await conn.execute(backend.table.select())]
    assert keys == ["new"]


@pytest.mark.parametrize(
    ("driver_error", "contention"),
    [
        (Exception(1213, "Deadlock found when trying to get lock"), True),
        (Exception(1205, "Lock wait timeout exceeded"), True),
        (Exception("database is locked"), True),
        (Exception(2003, "Can't connect to MySQL server"), False),
        (Exception("no such table: x"), False),
    ],
)
def test_losing_to_concurrent_writers_is_told_apart_from_failures(
    driver_error: Exception, contention: bool
) -> None:
    assert sql.is_contention(OperationalError("INSERT", {}, driver_error)) is contention


async def test_lock_lost_to_a_concurrent_writer_counts_as_locked(
    backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deadlock(*_args: object) -> None:
        raise OperationalError("INSERT", {}, Exception(1213, "Deadlock found"))

    monkeypatch.setattr(backend.table, "insert", deadlock)
    assert await backend.add_lock("lock_abc", "one", 10) is False
