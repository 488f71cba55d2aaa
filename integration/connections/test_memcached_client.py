"""The asyncio memcached client and pool against real memcached: stopped, killed, restarted servers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from mtpolicyd_core.connections.memcached_errors import MemcachedConnectionError, MemcachedTimeout
from mtpolicyd_core.connections.memcached_pool import MemcachedPool
from mtpolicyd_core.connections.memcached_protocol import MemcachedClient

from integration.fixtures.containers import ContainerProcess
from integration.fixtures.memcached import MemcachedServer

TIMEOUT = 1.0
#: seconds for commands in tests that are not about timeouts: they must not depend on time
GENEROUS = 10.0
#: far below the 50 x TIMEOUT that 50 commands timing out one after another would take
CONCURRENT_TIMEOUTS_BOUND = 10 * TIMEOUT
_namespaces = itertools.count(1)


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed")
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, None]], None]:
    """Run a coroutine to the end on asyncio's loop or on uvloop."""
    factory = asyncio.new_event_loop if request.param == "asyncio" else _uvloop_factory()

    def run_on_loop(coroutine: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(coroutine)

    return run_on_loop


def namespace() -> str:
    """A key prefix of this test's own on the shared server."""
    return f"client-test-{os.getpid()}-{next(_namespaces)}-"


def total_connections(server: MemcachedServer) -> int:
    """memcached's count of connections accepted so far (this probe included)."""
    with socket.create_connection((server.host, server.port), timeout=2) as probe:
        probe.sendall(b"stats\r\n")
        stats = b""
        while not stats.endswith(b"END\r\n"):
            stats += probe.recv(65536)
    return next(
        int(line.split()[2]) for line in stats.splitlines() if line.startswith(b"STAT total_connections ")
    )


def wait_until_stopped(pid: int, timeout: float = 10.0) -> None:
    """Until every thread of ``pid`` is stopped: a signal is delivered after ``kill`` returns."""
    deadline = time.monotonic() + timeout
    while True:
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(FileNotFoundError):
                states.append(stat.read_text().rpartition(")")[2].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        assert time.monotonic() < deadline, f"memcached {pid} did not stop: thread states {states}"
        time.sleep(0.01)


def freeze(server: MemcachedServer) -> None:
    """SIGSTOP the server (Docker: pause it): alive, accepting connections, answering nothing."""
    process = server.process
    if isinstance(process, ContainerProcess):
        process.container.get_wrapped_container().pause()
        return
    assert process.pid is not None
    os.killpg(process.pid, signal.SIGSTOP)
    wait_until_stopped(process.pid)


def thaw(server: MemcachedServer) -> None:
    """SIGCONT the frozen server (Docker: unpause it)."""
    process = server.process
    if isinstance(process, ContainerProcess):
        process.container.get_wrapped_container().unpause()
        return
    assert process.pid is not None
    os.killpg(process.pid, signal.SIGCONT)


@contextlib.contextmanager
def stopped(server: MemcachedServer) -> Iterator[None]:
    """The server frozen for the ``with`` block."""
    freeze(server)
    try:
        yield
    finally:
        thaw(server)


def test_every_command_against_memcached(memcached_server: MemcachedServer, run: Callable[..., None]) -> None:
    async def scenario() -> None:
        client = MemcachedClient(
            memcached_server.host, memcached_server.port, namespace=namespace(), timeout=GENEROUS
        )
        assert await client.get("k") is None
        assert await client.set("k", b"a\r\nEND\r\n\0", 60) is True
        assert await client.get("k") == b"a\r\nEND\r\n\0"
        assert await client.add("k", b"other", 60) is False
        assert await client.add("n", b"41", 60) is True
        assert await client.incr("n") == 42
        assert await client.decr("n", 50) == 0
        assert await client.incr("missing") is None
        assert await client.replace("missing", b"x") is False
        assert await client.replace("k", b"replaced") is True
        assert await client.touch("k", 120) is True
        assert await client.touch("missing", 120) is False
        assert await client.delete("k") is True
        assert await client.delete("k") is False
        assert await client.get("k") is None
        big = os.urandom(500_000)
        assert await client.set("big", big) is True
        assert await client.get("big") == big
        await client.aclose()

    run(scenario())


def test_expired_keys_are_gone(memcached_server: MemcachedServer, run: Callable[..., None]) -> None:
    async def scenario() -> None:
        client = MemcachedClient(
            memcached_server.host, memcached_server.port, namespace=namespace(), timeout=GENEROUS
        )
        assert await client.set("short", b"v", -1) is True  # a negative lifetime expires at once
        assert await client.get("short") is None
        await client.aclose()

    run(scenario())


def test_flush_all_drops_every_key(
    memcached_factory: Callable[[], MemcachedServer], run: Callable[..., None]
) -> None:
    server = memcached_factory()

    async def scenario() -> None:
        client = MemcachedClient(server.host, server.port, timeout=GENEROUS)
        await client.set("k", b"v")
        await client.flush_all()
        assert await client.get("k") is None
        await client.aclose()

    run(scenario())


def test_answer_that_arrived_while_a_callback_blocked_the_loop_is_not_a_timeout(
    memcached_factory: Callable[[], MemcachedServer], run: Callable[..., None]
) -> None:
    """The deadline passes while a callback blocks the loop, but the answer came in meanwhile: the
    loop reads it before the deadline timer runs, so the command succeeds."""
    server = memcached_factory()

    async def scenario() -> None:
        client = MemcachedClient(server.host, server.port, timeout=0.2)
        assert await client.set("k", b"v") is True
        freeze(server)
        loop = asyncio.get_running_loop()
        command = asyncio.ensure_future(client.get("k"))
        await asyncio.sleep(0)  # the get is sent to the stopped server
        deadline = loop.time() + client.timeout
        connection = client._connection
        assert connection is not None and connection._transport is not None
        answered_socket = connection._transport.get_extra_info("socket").fileno()

        def blocking_callback() -> None:
            thaw(server)
            select.select([answered_socket], [], [], 30)  # memcached answered ...
            while loop.time() <= deadline:  # ... and the deadline passes, all while the loop is blocked
                time.sleep(0.05)

        asyncio.get_running_loop().call_later(0.05, blocking_callback)
        assert await command == b"v"
        await client.aclose()

    run(scenario())


@pytest.mark.parametrize("max_in_flight", [256, 1000])
def test_thousand_concurrent_commands_pipelined_on_one_connection(
    memcached_server: MemcachedServer, run: Callable[..., None], max_in_flight: int
) -> None:
    before = total_connections(memcached_server)

    async def scenario() -> None:
        client = MemcachedClient(
            memcached_server.host,
            memcached_server.port,
            namespace=namespace(),
            timeout=GENEROUS,
            max_in_flight=max_in_flight,
        )
        keys = [f"key-{i}" for i in range(1000)]
        stored = await asyncio.gather(*(client.set(key, f"value of {key}".encode(), 60) for key in keys))
        assert stored == [True] * 1000
        mixed = await asyncio.gather(
            *(client.get(key) if i % 2 else client.delete(key) for i, key in enumerate(keys))
        )
        assert mixed == [f"value of {key}".encode() if i % 2 else True for i, key in enumerate(keys)]
        await client.aclose()

    run(scenario())
    assert total_connections(memcached_server) - before == 2  # the client's one and the second probe


def test_stopped_server_fails_pending_commands_together_then_works_again(
    memcached_factory: Callable[[], MemcachedServer], run: Callable[..., None]
) -> None:
    server = memcached_factory()

    async def scenario() -> None:
        client = MemcachedClient(server.host, server.port, timeout=TIMEOUT)
        assert await client.set("k", b"before") is True
        with stopped(server):
            commands = [
                client.get("k"),
                client.set("k", b"during"),
                client.add("x", b"1"),
                client.delete("y"),
            ]
            commands += [client.get(f"k{i}") for i in range(46)]
            started = time.monotonic()
            results = await asyncio.gather(*commands, return_exceptions=True)
            elapsed = time.monotonic() - started
            assert [type(result) for result in results] == [MemcachedTimeout] * 50
            assert elapsed < CONCURRENT_TIMEOUTS_BOUND
        client.timeout = GENEROUS
        # the server may still run the set it had received before the connection was reset
        assert await client.get("k") in (b"before", b"during")
        assert await client.set("k", b"after") is True
        assert await client.get("k") == b"after"
        await client.aclose()

    run(scenario())


def test_killed_then_restarted_server_is_used_again(
    memcached_factory: Callable[[], MemcachedServer], run: Callable[..., None]
) -> None:
    server = memcached_factory()

    async def scenario() -> None:
        client = MemcachedClient(server.host, server.port, timeout=GENEROUS)
        assert await client.set("k", b"v") is True
        server.kill()
        with pytest.raises(MemcachedConnectionError, match="could not connect"):
            await client.get("k")
        server.start()
        assert await client.get("k") is None  # the data died with the server
        assert await client.set("k", b"w") is True
        server.kill()
        server.start()  # restarted between two commands: no command fails
        assert await client.get("k") is None
        await client.aclose()

    run(scenario())


def test_pool_goes_on_without_a_killed_server_and_takes_it_back(
    memcached_factory: Callable[[], MemcachedServer], run: Callable[..., None]
) -> None:
    servers = [memcached_factory() for _ in range(3)]
    victim = servers[0]

    async def scenario() -> None:
        pool = MemcachedPool(
            ", ".join(server.address for server in servers), timeout=GENEROUS, dead_retry=1.0
        )
        keys = [f"key-{i}" for i in range(60)]
        assert await asyncio.gather(*(pool.set(key, b"first") for key in keys)) == [True] * 60
        on_victim = [key for key in keys if pool.client_for(key).port == victim.port]
        elsewhere = [key for key in keys if key not in on_victim]
        assert on_victim and elsewhere

        victim.kill()
        # the dead server refuses the resend: never sent there, each command goes to the key's next server
        assert await asyncio.gather(*(pool.get(key) for key in elsewhere)) == [b"first"] * len(elsewhere)
        assert await asyncio.gather(*(pool.get(key) for key in on_victim)) == [None] * len(on_victim)  # lost
        assert await asyncio.gather(*(pool.set(key, b"remapped") for key in on_victim)) == [True] * len(
            on_victim
        )
        assert all(pool.client_for(key).port != victim.port for key in on_victim)

        victim.start()
        while pool.client_for(on_victim[0]).port != victim.port:  # back after dead_retry
            await asyncio.sleep(0.05)
        assert await pool.get(on_victim[0]) is None  # the restarted server is empty
        assert await pool.get(elsewhere[0]) == b"first"
        await pool.aclose()

    run(scenario())
