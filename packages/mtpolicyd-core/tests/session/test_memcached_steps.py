"""memcached sessions: lock and load, store and unlock, each in one round trip on one server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest
from memcached_fakes import FakeMemcached
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.memcached import MemcachedConnection
from mtpolicyd_core.session.memcached import MemcachedBackend


@pytest.fixture
async def server() -> AsyncIterator[FakeMemcached]:
    fake = await FakeMemcached().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def backend(server: FakeMemcached) -> AsyncIterator[MemcachedBackend]:
    connection = MemcachedConnection(ConnectionConfig("m", "Memcached", {"servers": server.address}))
    yield MemcachedBackend(connection)
    await connection.aclose()


T = TypeVar("T")


async def both_sent_before_any_answer(server: FakeMemcached, step: asyncio.Future[T]) -> T:
    server.stall()
    async with asyncio.timeout(30):
        await server.wait_received(2)
    assert not step.done()
    server.resume()
    return await step


async def test_lock_and_load_is_one_round_trip(server: FakeMemcached, backend: MemcachedBackend) -> None:
    server.data[b"py:abc"] = b'{"score": 1}'
    step = asyncio.ensure_future(backend.lock_and_get("py:lock_abc", "t", 10, "py:abc"))
    assert await both_sent_before_any_answer(server, step) == (True, b'{"score": 1}')
    assert [line.split()[0] for line in server.received] == [b"add", b"get"]


async def test_store_and_unlock_is_one_round_trip_in_that_order(
    server: FakeMemcached, backend: MemcachedBackend
) -> None:
    server.data[b"py:lock_abc"] = b"t"
    step = asyncio.ensure_future(backend.set_and_unlock("py:abc", b"{}", 300, "py:lock_abc", "t"))
    await both_sent_before_any_answer(server, step)
    assert [line.split()[0] for line in server.received] == [b"set", b"delete"]
    assert server.data == {b"py:abc": b"{}"}


async def test_a_held_lock_gives_no_value(server: FakeMemcached, backend: MemcachedBackend) -> None:
    server.data[b"py:lock_abc"] = b"other"
    server.data[b"py:abc"] = b"{}"
    assert await backend.lock_and_get("py:lock_abc", "t", 10, "py:abc") == (False, None)
    assert server.data[b"py:lock_abc"] == b"other"
