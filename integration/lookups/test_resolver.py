"""The stub resolver against a real rbldnsd, with dnspython's answers as the reference."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import pytest
from mtpolicyd_core.lookups.dns_wire import NOERROR, NXDOMAIN, TXT, A
from mtpolicyd_core.lookups.resolver import DnsResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig

from integration.fixtures.rbldnsd import RbldnsdServer

ZONES = {
    "zen.test": "$SOA 3600 ns.zen.test hostmaster.zen.test 1 3600 600 86400 45\n"
    ":127.0.0.2:Listed in SBL, see https://zen.test/query/ip/$\n"
    "192.0.2.2\n"
    "192.0.2.3 :127.0.0.3:two words; and (more)\n",
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def dnspython(server: RbldnsdServer) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    return resolver


@pytest.mark.parametrize("name", ["2.2.0.192.zen.test", "3.2.0.192.zen.test"])
def test_listed_address_and_txt_are_what_dnspython_gets(
    rbldnsd_server: Callable[..., RbldnsdServer], name: str
) -> None:
    server = rbldnsd_server(ZONES)
    reference = dnspython(server)
    expected_a = [rdata.address for rdata in reference.resolve(name, "A")]
    expected_txt = [tuple(rdata.strings) for rdata in reference.resolve(name, "TXT")]

    async def scenario() -> None:
        resolver = DnsResolver(ResolverConfig.from_system(server.env))
        address, text = await resolver.query(name, A), await resolver.query(name, TXT)
        assert (address.rcode, address.values) == (NOERROR, expected_a)
        assert (text.rcode, text.values) == (NOERROR, expected_txt)
        await resolver.aclose()

    asyncio.run(scenario())


def test_nxdomain_is_cached_for_the_zones_negative_ttl(rbldnsd_server: Callable[..., RbldnsdServer]) -> None:
    server = rbldnsd_server(ZONES)
    query = dns.message.make_query("1.2.0.192.zen.test", "A")
    negative = dns.query.udp(query, server.host, port=server.port, timeout=5)
    soa = next(rrset for rrset in negative.authority if rrset.rdtype == dns.rdatatype.SOA)
    negative_ttl = min(soa.ttl, soa[0].minimum)
    clock = Clock()

    async def scenario() -> None:
        resolver = DnsResolver(ResolverConfig.from_system(server.env), clock=clock)
        first = await resolver.query("1.2.0.192.zen.test", A)
        assert (first.rcode, first.records, first.from_cache) == (NXDOMAIN, (), False)
        clock.now = negative_ttl - 0.5
        assert (await resolver.query("1.2.0.192.zen.test", A)).from_cache
        clock.now = negative_ttl
        assert not (await resolver.query("1.2.0.192.zen.test", A)).from_cache
        stats = resolver.stats()
        assert (stats.hits, stats.expired) == (1, 1)
        await resolver.aclose()

    asyncio.run(scenario())
    assert negative_ttl == 45


def run_on(loop: str) -> Callable[[Coroutine[Any, Any, None]], None]:
    """``asyncio.run`` or ``uvloop.run`` (uvloop is what the workers use when it is installed)."""
    if loop == "uvloop":
        return pytest.importorskip("uvloop", reason="uvloop is not installed").run  # type: ignore[no-any-return]
    return asyncio.run


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_500_concurrent_queries_are_all_answered_right(
    rbldnsd_server: Callable[..., RbldnsdServer], loop: str
) -> None:
    listed = {number: f"127.1.{number >> 8}.{number & 255}" for number in range(0, 500, 2)}
    data = "".join(
        f"10.0.{number >> 8}.{number & 255} :{address}:entry {number}\n" for number, address in listed.items()
    )
    server = rbldnsd_server({"many.test": data})

    async def scenario() -> None:
        # a burst beyond the loopback socket's queue loses datagrams: generous tries recover them
        env = {**server.env, "RES_OPTIONS": f"{server.env.get('RES_OPTIONS', '')} timeout:2 attempts:5"}
        resolver = DnsResolver(ResolverConfig.from_system(env))
        names = [f"{number & 255}.{number >> 8}.0.10.many.test" for number in range(500)]
        answers = await asyncio.gather(*(resolver.query(name, A) for name in names))
        for number, answer in enumerate(answers):
            if number in listed:
                assert (answer.rcode, answer.values) == (NOERROR, [listed[number]]), number
            else:
                assert (answer.rcode, answer.values) == (NXDOMAIN, []), number
        await resolver.aclose()

    run_on(loop)(scenario())
