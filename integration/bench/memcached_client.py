"""CPU cost of one session's memcached commands (add lock, get, set, delete lock) per client and loop.

Usage: ``python -m integration.bench.memcached_client [--sequences N] [--repeat R] [--profile]``.
Clients: pymemcache blocking (called from the loop, as a baseline: it would block the loop on a
stopped server), aiomcache, our MemcachedClient and MemcachedPool (one and three servers), on
asyncio's loop and on uvloop, against local memcached. Each sequence runs serially, and 64 at a time
(``asyncio.gather``). Printed: client-process CPU µs per sequence (best of R rounds over all
cases, so that a changing machine load hits every case alike), and wall µs.
Numbers are reported, never asserted: a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiomcache
import uvloop
from mtpolicyd_core.connections.memcached_pool import MemcachedPool
from mtpolicyd_core.connections.memcached_protocol import MemcachedClient
from pymemcache.client.base import Client as PymemcacheClient

from integration.fixtures.memcached import MemcachedServer

CONCURRENCY = 64
INSTANCES = 512  # sessions cycle over these, so most ``get`` find a stored session, as in real mail
SESSION = json.dumps({"_instance": "x" * 12, "score": 5.5, "score_detail": "rbl=5.5", "spf": "pass"}).encode()
TOKEN = b"0123456789abcdef0123456789abcdef"
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


class SessionCommands(Protocol):
    """The four commands of one request's session, whatever the client."""

    async def sequence(self, instance: int) -> None: ...

    async def close(self) -> None: ...


class Ours:
    """MemcachedClient or MemcachedPool (same API)."""

    def __init__(self, client: MemcachedClient | MemcachedPool) -> None:
        self.client = client

    async def sequence(self, instance: int) -> None:
        client = self.client
        lock = f"lock_{instance}"
        await client.add(lock, TOKEN, 10)
        await client.get(str(instance))
        await client.set(str(instance), SESSION, 300)
        await client.delete(lock)

    async def close(self) -> None:
        await self.client.aclose()


class Aiomcache:
    """aiomcache: one pooled connection acquired per command (key prefix done by hand)."""

    def __init__(self, host: str, port: int) -> None:
        self.client = aiomcache.Client(host, port)

    async def sequence(self, instance: int) -> None:
        client = self.client
        lock = b"mt-lock_%d" % instance
        await client.add(lock, TOKEN, 10)
        await client.get(b"mt-%d" % instance)
        await client.set(b"mt-%d" % instance, SESSION, 300)
        await client.delete(lock)

    async def close(self) -> None:
        await self.client.close()


class Pymemcache:
    """pymemcache's blocking Client called straight from the loop."""

    def __init__(self, host: str, port: int) -> None:
        self.client = PymemcacheClient((host, port), timeout=1, connect_timeout=1, key_prefix=b"mt-")

    async def sequence(self, instance: int) -> None:
        client = self.client
        lock = f"lock_{instance}"
        client.add(lock, TOKEN, 10, noreply=False)
        client.get(str(instance))
        client.set(str(instance), SESSION, 300, noreply=False)
        client.delete(lock, noreply=False)

    async def close(self) -> None:
        self.client.close()


def contenders(servers: list[MemcachedServer]) -> dict[str, Callable[[], SessionCommands]]:
    """Client name → factory (called inside the running loop)."""
    first = servers[0]
    addresses = ", ".join(server.address for server in servers)
    return {
        "pymemcache blocking": lambda: Pymemcache(first.host, first.port),
        "aiomcache": lambda: Aiomcache(first.host, first.port),
        "MemcachedClient": lambda: Ours(MemcachedClient(first.host, first.port, namespace="mt-")),
        "MemcachedPool 1 server": lambda: Ours(MemcachedPool(first.address, namespace="mt-")),
        "MemcachedPool 3 servers": lambda: Ours(MemcachedPool(addresses, namespace="mt-")),
    }


async def serially(commands: SessionCommands, count: int) -> None:
    for number in range(count):
        await commands.sequence(number % INSTANCES)


async def concurrently(commands: SessionCommands, count: int) -> None:
    for start in range(0, count, CONCURRENCY):
        await asyncio.gather(*(commands.sequence((start + i) % INSTANCES) for i in range(CONCURRENCY)))


MODES: dict[str, Callable[[SessionCommands, int], Awaitable[None]]] = {
    "serial": serially,
    f"{CONCURRENCY} concurrent": concurrently,
}


def measure(make: Callable[[], SessionCommands], loop: str, mode: str, count: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per sequence for ``count`` sequences after a warm-up."""

    async def timed() -> tuple[float, float]:
        commands = make()
        run = MODES[mode]
        await run(commands, CONCURRENCY * 4)
        cpu, wall = time.process_time(), time.perf_counter()
        await run(commands, count)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await commands.close()
        return cpu / count * 1e6, wall / count * 1e6

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(timed())


@contextmanager
def memcached_servers(count: int) -> Iterator[list[MemcachedServer]]:
    with tempfile.TemporaryDirectory(prefix="memcached-bench-") as workdir:
        servers = [MemcachedServer(Path(workdir)).start() for _ in range(count)]
        try:
            yield servers
        finally:
            for server in servers:
                server.stop()


def profile(make: Callable[[], SessionCommands], loop: str, count: int) -> None:
    """cProfile of ``count`` serial sequences: the 25 most expensive functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    measure(make, loop, "serial", count)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequences", type=int, default=6400, help="sequences per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--only", help="measure only clients whose name contains this")
    parser.add_argument(
        "--profile", choices=LOOPS, help="profile MemcachedClient serially on this loop instead"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with memcached_servers(3) as servers:
        clients = contenders(servers)
        if args.profile:
            profile(clients["MemcachedClient"], args.profile, args.sequences)
            return 0
        cases = [
            (name, loop, mode)
            for name in clients
            if not args.only or args.only in name
            for loop in LOOPS
            for mode in MODES
        ]
        best: dict[tuple[str, str, str], tuple[float, float]] = {}
        for _ in range(args.repeat):  # rounds over every case: a machine's changing load hits all alike
            for case in cases:
                name, loop, mode = case
                best[case] = min(
                    best.get(case, (math.inf, math.inf)), measure(clients[name], loop, mode, args.sequences)
                )
    print(f"{'client':26} {'loop':8} {'mode':14} {'CPU µs/seq':>11} {'wall µs/seq':>12}")
    results: list[dict[str, Any]] = []
    for (name, loop, mode), (cpu, wall) in best.items():
        results.append({"client": name, "loop": loop, "mode": mode, "cpu_us": cpu, "wall_us": wall})
        print(f"{name:26} {loop:8} {mode:14} {cpu:11.0f} {wall:12.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
