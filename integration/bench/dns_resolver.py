"""CPU per DNS look-up: dnspython's asyncio resolver against our stub resolver (asyncio and uvloop)
and its cache, all asking one local rbldnsd. Numbers are reported, never asserted.

Usage: ``python -m integration.bench.dns_resolver [--queries N] [--concurrency N] [--repeat N] [--profile]``.
Each measurement runs ``--repeat`` times; the table shows the least and the median process CPU
time per look-up (the least is the one other load on the machine disturbed least).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.rdatatype
import uvloop
from mtpolicyd_core.lookups.dns_wire import A
from mtpolicyd_core.lookups.resolver import DnsResolver, ResolverConfig

from integration.fixtures.rbldnsd import RbldnsdServer

#: every 127.x.y.z is listed, so each query gets an A record and distinct names are easy to make
ZONES = {"bl.test": "$SOA 3600 ns.bl.test hostmaster.bl.test 1 3600 600 86400 60\n:127.0.0.2:listed\n127/8\n"}
Lookup = Callable[[str], Awaitable[object]]
#: (server, names, look-ups in flight) → CPU µs per look-up
Measure = Callable[[RbldnsdServer, list[str], int], Coroutine[Any, Any, float]]


def names(count: int) -> list[str]:
    """``count`` distinct listed names."""
    return [f"{i & 255}.{(i >> 8) & 255}.{(i >> 16) & 255}.127.bl.test" for i in range(count)]


async def cpu_per_query(lookup: Lookup, queries: list[str], concurrency: int) -> float:
    """Process CPU µs per look-up, with ``concurrency`` look-ups in flight."""
    chunks = [queries[start::concurrency] for start in range(concurrency)]

    async def worker(chunk: list[str]) -> None:
        for name in chunk:
            await lookup(name)

    await asyncio.gather(*(worker(chunk[:8]) for chunk in chunks))  # warm up: sockets, first calls
    started = time.process_time()
    await asyncio.gather(*(worker(chunk) for chunk in chunks))
    return (time.process_time() - started) / len(queries) * 1e6


async def dnspython_resolver(server: RbldnsdServer, queries: list[str], concurrency: int) -> float:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port

    async def lookup(name: str) -> object:
        return await resolver.resolve(name, dns.rdatatype.A, search=False)

    return await cpu_per_query(lookup, queries[: len(queries) // 5], concurrency)  # it is slow


async def stub_resolver(
    server: RbldnsdServer, queries: list[str], concurrency: int, cache_hits: bool
) -> float:
    config = ResolverConfig.from_system(server.env, cache_size=len(queries) + 1000 if cache_hits else 0)
    resolver = DnsResolver(config)

    async def lookup(name: str) -> object:
        return await resolver.query(name, A)

    try:
        if cache_hits:
            await cpu_per_query(lookup, queries, concurrency)  # fill the cache
        return await cpu_per_query(lookup, queries, concurrency)
    finally:
        await resolver.aclose()


async def stub_misses(server: RbldnsdServer, queries: list[str], concurrency: int) -> float:
    return await stub_resolver(server, queries, concurrency, cache_hits=False)


async def stub_hits(server: RbldnsdServer, queries: list[str], concurrency: int) -> float:
    return await stub_resolver(server, queries, concurrency, cache_hits=True)


@dataclass(frozen=True)
class Case:
    label: str
    measure: Measure
    use_uvloop: bool

    def run(self, server: RbldnsdServer, queries: list[str], concurrency: int) -> float:
        coroutine = self.measure(server, queries, concurrency)
        return uvloop.run(coroutine) if self.use_uvloop else asyncio.run(coroutine)


CASES = [
    Case("dnspython asyncresolver, asyncio", dnspython_resolver, False),
    Case("stub resolver, asyncio", stub_misses, False),
    Case("stub resolver, uvloop", stub_misses, True),
    Case("stub resolver cache hit, asyncio", stub_hits, False),
    Case("stub resolver cache hit, uvloop", stub_hits, True),
]


def profile(server: RbldnsdServer, queries: list[str]) -> None:
    """cProfile (on process CPU time) of sequential uncached look-ups on uvloop."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    Case("", stub_misses, True).run(server, queries, 1)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=10_000, help="look-ups per measurement")
    parser.add_argument("--concurrency", type=int, default=64, help="look-ups in flight at once")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per case")
    parser.add_argument("--profile", action="store_true", help="profile the stub's uncached uvloop run")
    args = parser.parse_args(argv)
    queries = names(args.queries)
    with tempfile.TemporaryDirectory() as workdir:
        server = RbldnsdServer(Path(workdir), ZONES).start()
        try:
            if args.profile:
                profile(server, queries)
                return 0
            print(f"CPU µs per A query (least / median of {args.repeat}), rbldnsd on port {server.port}")
            print(f"{'':36}{'sequential':>16}{f'{args.concurrency} in flight':>18}")
            for case in CASES:
                cells = []
                for concurrency in (1, args.concurrency):
                    runs = [case.run(server, queries, concurrency) for _ in range(args.repeat)]
                    cells.append(f"{min(runs):7.1f} / {statistics.median(runs):6.1f}")
                print(f"{case.label:36}{cells[0]:>16}{cells[1]:>18}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
