"""SQL session primitives on SQLite: insert-lock, atomic take-over of expired locks, expiry."""

from __future__ import annotations

from pathlib import Path

import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.session import sql
from mtpolicyd_core.session.sql import SqlBackend


@pytest.fixture
def backend(tmp_path: Path) -> SqlBackend:
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path}/s.sqlite"}))
    return SqlBackend(connection)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    now = [1_000_000]
    monkeypatch.setattr(sql, "now_ms", lambda: now[0])
    return now


def test_table_is_created_on_first_use(backend: SqlBackend) -> None:
    assert backend.get("abc") is None


def test_lock_is_exclusive_until_deleted_by_its_owner(backend: SqlBackend) -> None:
    assert backend.add_lock("lock_abc", "one", 10)
    assert not backend.add_lock("lock_abc", "two", 10)
    backend.delete_lock("lock_abc", "two")
    assert not backend.add_lock("lock_abc", "two", 10)
    backend.delete_lock("lock_abc", "one")
    assert backend.add_lock("lock_abc", "two", 10)


def test_expired_lock_is_taken_over_once(backend: SqlBackend, clock: list[int]) -> None:
    backend.add_lock("lock_abc", "dead", 10)
    clock[0] += 10_001
    assert backend.add_lock("lock_abc", "second", 10)
    assert not backend.add_lock("lock_abc", "third", 10)


def test_value_is_replaced_and_expires(backend: SqlBackend, clock: list[int]) -> None:
    backend.set("abc", b"one", 300)
    backend.set("abc", b"two", 300)
    assert backend.get("abc") == b"two"
    clock[0] += 300_001
    assert backend.get("abc") is None


def test_sweep_deletes_expired_rows(backend: SqlBackend, clock: list[int]) -> None:
    backend.set("old", b"x", 1)
    backend.set("new", b"y", 300)
    clock[0] += 2000
    backend.sweep()
    with backend.engine.connect() as conn:
        keys = [row[0] for row in conn.execute(backend.table.select())]
    assert keys == ["new"]
