"""memcached over several servers: pymemcache's key placement, failed servers left out a while."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from memcached_fakes import FakeMemcached
from mtpolicyd_core.connections.memcached_errors import (
    MemcachedConnectionError,
    MemcachedKeyError,
    MemcachedServerError,
    MemcachedTimeout,
)
from mtpolicyd_core.connections.memcached_pool import MemcachedPool, parse_servers
from mtpolicyd_core.connections.memcached_protocol import MemcachedClient
from mtpolicyd_core.errors import ConfigError
from pymemcache.client.hash import HashClient

COMMANDS = ["get", "set", "add", "replace", "delete", "incr", "decr", "touch", "flush_all", "aclose"]


ON_ANY_LOOP = pytest.mark.usefixtures("any_event_loop")
#: seconds: tests that are not about timeouts do not depend on time
GENEROUS = 10.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_with_fakes(count: int, scenario: Callable[[list[FakeMemcached]], Awaitable[None]]) -> None:
    async def main() -> None:
        fakes = [await FakeMemcached().start() for _ in range(count)]
        try:
            await scenario(fakes)
        finally:
            for fake in fakes:
                fake.resume()
                await fake.stop()

    asyncio.run(main())


def servers_of(fakes: list[FakeMemcached]) -> str:
    return ", ".join(fake.address for fake in fakes)


def key_on(pool: MemcachedPool, fake: FakeMemcached) -> str:
    """A key that the pool places on ``fake`` now."""
    return next(f"key{i}" for i in range(10_000) if pool.client_for(f"key{i}").port == fake.port)


@pytest.mark.parametrize(
    ("servers", "pairs"),
    [
        ("10.0.0.1:11311 , cache.example", [("10.0.0.1", 11311), ("cache.example", 11211)]),
        ("[::1]:11212,[2001:db8::5]", [("::1", 11212), ("2001:db8::5", 11211)]),
        ("  localhost  ", [("localhost", 11211)]),
    ],
)
def test_servers_are_read_as_cache_memcached_takes_them(servers: str, pairs: list[tuple[str, int]]) -> None:
    assert parse_servers(servers) == pairs


@pytest.mark.parametrize("servers", ["", "host:port", "::1", "[::1]:0", "host:70000", "a b:1"])
def test_unreadable_servers_are_a_config_error(servers: str) -> None:
    with pytest.raises(ConfigError, match="memcached servers"):
        parse_servers(servers)


PRINTABLE = st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_categories=("Cc", "Zs"))


@given(st.text(PRINTABLE, min_size=1, max_size=60))
def test_keys_land_where_pymemcache_hash_client_puts_them(key: str) -> None:
    servers = [("10.0.0.1", 11211), ("10.0.0.2", 11211), ("::1", 11212), ("cache.example", 11211)]
    pool = MemcachedPool("10.0.0.1:11211, 10.0.0.2, [::1]:11212, cache.example", namespace="mt-")
    hash_client = HashClient(servers, key_prefix=b"mt-", allow_unicode_keys=True)
    placed = pool.client_for(key)
    assert (placed.host, placed.port) == hash_client._get_client(key).server


def test_pool_has_the_client_api() -> None:
    for name in COMMANDS:
        assert inspect.signature(getattr(MemcachedPool, name)) == inspect.signature(
            getattr(MemcachedClient, name)
        )


def test_pool_is_made_without_a_loop_and_describes_itself() -> None:
    pool = MemcachedPool("127.0.0.1:1, 127.0.0.1:2", name="cache", namespace="mt-")
    assert pool.describe() == "memcached cache (127.0.0.1:1, 127.0.0.1:2)"
    assert all(client._connection is None for client in pool.clients.values())


@ON_ANY_LOOP
def test_commands_go_to_the_server_of_their_key_with_the_namespace() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        pool = MemcachedPool(servers_of(fakes), timeout=GENEROUS, namespace="mt-")
        keys = [f"k{i}" for i in range(30)]
        assert all(await asyncio.gather(*(pool.set(key, key.encode()) for key in keys)))
        for key in keys:
            owner = next(fake for fake in fakes if fake.port == pool.client_for(key).port)
            assert owner.data[b"mt-" + key.encode()] == key.encode()
        assert sum(len(fake.data) for fake in fakes) == 30
        assert await pool.incr("n") is None
        assert await pool.add("n", b"1", 5) is True
        assert await pool.incr("n", 2) == 3
        assert await pool.decr("n") == 2
        assert await pool.replace("n", b"7") is True
        assert await pool.touch("n", 9) is True
        assert await pool.get("n") == b"7"
        assert await pool.delete("n") is True
        await pool.flush_all()
        assert all(fake.data == {} for fake in fakes)
        await pool.aclose()

    run_with_fakes(3, scenario)


@ON_ANY_LOOP
def test_failed_server_is_left_out_its_keys_remapped_then_tried_again() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        clock = Clock()
        pool = MemcachedPool(servers_of(fakes), timeout=GENEROUS, dead_retry=1.0, clock=clock)
        failing = fakes[0]
        key = key_on(pool, failing)
        assert await pool.set(key, b"before") is True
        await failing.stop()
        # refused: the command was never sent, so it goes to the key's next server at once;
        # what the failed server held is not there
        assert await pool.get(key) is None
        assert await pool.set(key, b"meanwhile") is True
        assert pool.client_for(key).port != failing.port
        await failing.start()
        clock.now += 0.9
        assert pool.client_for(key).port != failing.port
        clock.now += 0.2
        assert pool.client_for(key).port == failing.port
        assert await pool.get(key) is None  # restarted empty
        await pool.aclose()

    run_with_fakes(3, scenario)


@ON_ANY_LOOP
def test_stalled_server_is_left_out_after_its_timeout() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        pool = MemcachedPool(servers_of(fakes), timeout=0.2, clock=Clock())
        stalled = fakes[1]
        key = key_on(pool, stalled)
        stalled.stall()
        results = await asyncio.gather(*(pool.get(key) for _ in range(10)), return_exceptions=True)
        assert all(isinstance(result, MemcachedTimeout) for result in results)
        assert pool.client_for(key).port != stalled.port
        pool.client_for(key).timeout = GENEROUS
        assert await pool.get(key) is None
        await pool.aclose()

    run_with_fakes(2, scenario)


@ON_ANY_LOOP
def test_when_every_server_failed_commands_fail_at_once() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        pool = MemcachedPool(servers_of(fakes), timeout=GENEROUS, clock=Clock())
        key = key_on(pool, fakes[0])
        for fake in fakes:
            await fake.stop()
        with pytest.raises(MemcachedConnectionError, match="could not connect"):
            await pool.get(key)  # tried on each server once
        with pytest.raises(MemcachedConnectionError, match="every server failed"):
            await pool.get("k")
        await pool.aclose()

    run_with_fakes(2, scenario)


@ON_ANY_LOOP
def test_one_server_is_never_left_out() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        pool = MemcachedPool(servers_of(fakes), timeout=GENEROUS, clock=Clock())
        await fakes[0].stop()
        for _ in range(2):
            with pytest.raises(MemcachedConnectionError, match="could not connect"):
                await pool.get("k")
        await fakes[0].start()
        assert await pool.get("k") is None
        await pool.aclose()

    run_with_fakes(1, scenario)


@ON_ANY_LOOP
def test_server_error_and_bad_key_do_not_leave_the_server_out() -> None:
    async def scenario(fakes: list[FakeMemcached]) -> None:
        pool = MemcachedPool(servers_of(fakes), timeout=GENEROUS, clock=Clock())
        key = key_on(pool, fakes[0])
        fakes[0].script.append(b"SERVER_ERROR out of memory storing object\r\n")
        with pytest.raises(MemcachedServerError):
            await pool.set(key, b"v")
        with pytest.raises(MemcachedKeyError):
            await pool.get("with space")
        assert pool.client_for(key).port == fakes[0].port
        await pool.aclose()

    run_with_fakes(2, scenario)
