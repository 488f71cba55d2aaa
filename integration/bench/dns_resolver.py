"""CPU per DNS look-up: dnspython's asyncio resolver against our stub resolver (asyncio and uvloop)
and its cache, all asking one local rbldnsd. Numbers are reported, never asserted.

Usage: ``python -m integration.bench.dns_resolver [--queries N] [--concurrency N] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
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


async def dnspython_case(server: RbldnsdServer, queries: list[str], concurrency: int) -> float:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port

    async def lookup(name: str) -> object:
        return await resolver.resolve(name, dns.rdatatype.A, search=False)

    return await cpu_per_query(lookup, queries, concurrency)


async def stub_case(server: RbldnsdServer, queries: list[str], concurrency: int, cache_hits: bool) -> float:
    config = ResolverConfig.from_system(server.env, cache_size=len(queries) + 1000 if cache_hits else 0)
    resolver = DnsResolver(config)

    async def lookup(name: str) -> object:
        return await resolver.query(name, A)

    if cache_hits:
        await asyncio.gather(*(lookup(name) for name in queries))
    try:
        return await cpu_per_query(lookup, queries, concurrency)
    finally:
        await resolver.aclose()


def run(case: Callable[[], Coroutine[Any, Any, float]], use_uvloop: bool) -> float:
    if use_uvloop:
        return uvloop.run(case())
    return asyncio.run(case())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=20_000, help="look-ups per measurement")
    parser.add_argument("--concurrency", type=int, default=64, help="look-ups in flight at once")
    parser.add_argument("--profile", action="store_true", help="cProfile the stub's uncached uvloop run")
    args = parser.parse_args(argv)
    queries = names(args.queries)
    with tempfile.TemporaryDirectory() as workdir:
        server = RbldnsdServer(Path(workdir), ZONES).start()
        try:
            if args.profile:
                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
                run(lambda: stub_case(server, queries, 1, cache_hits=False), use_uvloop=True)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                return 0
            print(f"CPU µs per A query, {len(queries)} queries, rbldnsd on {server.host}:{server.port}")
            print(f"{'':34}{'sequential':>12}{f'{args.concurrency} in flight':>16}")
            cases: list[tuple[str, Callable[[int], Coroutine[Any, Any, float]], bool]] = [
                ("dnspython asyncresolver (asyncio)", lambda n: dnspython_case(server, queries, n), False),
                ("stub resolver, asyncio", lambda n: stub_case(server, queries, n, False), False),
                ("stub resolver, uvloop", lambda n: stub_case(server, queries, n, False), True),
                ("stub resolver cache hit, uvloop", lambda n: stub_case(server, queries, n, True), True),
            ]
            for label, case, use_uvloop in cases:
                sequential = run(lambda case=case: case(1), use_uvloop)  # type: ignore[misc]
                concurrent = run(lambda case=case: case(args.concurrency), use_uvloop)  # type: ignore[misc]
                print(f"{label:34}{sequential:12.1f}{concurrent:16.1f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
