"""The stub resolver against in-process fake name servers, on asyncio and on uvloop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from fake_nameserver import DECOY_ADDRESS, FakeNameserver, start_nameservers
from mtpolicyd_core.lookups.dns_wire import CNAME, MX, NOERROR, NXDOMAIN, SERVFAIL, TXT, A, MxData
from mtpolicyd_core.lookups.resolver import DnsLookupError, DnsResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig

RECORDS = {
    ("2.0.0.127.bl.test.", "A"): ["127.0.0.2"],
    ("2.0.0.127.bl.test.", "TXT"): ['"Listed, see http://bl.test/?127.0.0.2" second'],
    ("alias.test.", "CNAME"): ["middle.test."],
    ("middle.test.", "CNAME"): ["real.test."],
    ("real.test.", "A"): ["127.0.0.5", "127.0.0.6"],
    ("mail.test.", "MX"): ["10 mx1.test.", "20 mx2.test."],
}
Scenario = Callable[[], Coroutine[Any, Any, None]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Scenario], None]]:
    """Run a test's scenario on a fresh event loop of each kind."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        yield lambda scenario: uvloop.run(scenario())
    else:
        yield lambda scenario: asyncio.run(scenario())


def config(server: FakeNameserver, *hosts: str, **settings: object) -> ResolverConfig:
    return ResolverConfig(nameservers=hosts or (server.host,), port=server.port, **settings)  # type: ignore[arg-type]


async def started(records: object = RECORDS, **options: object) -> FakeNameserver:
    return (await start_nameservers(records, 1, **options))[0]  # type: ignore[arg-type]


# --- answers ----------------------------------------------------------------------------------


def test_listed_address_is_answered_then_cached(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        first = await resolver.query("2.0.0.127.bl.test", A)
        again = await resolver.query("2.0.0.127.BL.test.", A)
        assert (first.rcode, first.values, first.from_cache) == (NOERROR, ["127.0.0.2"], False)
        assert (again.values, again.from_cache) == (["127.0.0.2"], True)
        assert len(server.queries) == 1
        assert resolver.stats().hits == 1
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_txt_character_strings_stay_apart(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        answer = await resolver.query("2.0.0.127.bl.test", TXT)
        assert answer.values == [(b"Listed, see http://bl.test/?127.0.0.2", b"second")]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_cname_chain_in_the_answer_is_followed(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        answer = await resolver.query("alias.test", A)
        assert answer.values == ["127.0.0.5", "127.0.0.6"]
        assert answer.cname_chain == ("middle.test", "real.test")
        assert [record.name for record in answer.records] == ["real.test", "real.test"]
        cname = await resolver.query("alias.test", CNAME)
        assert (cname.values, cname.cname_chain) == (["middle.test"], ())
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_mx_records(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        answer = await resolver.query("mail.test", MX)
        assert answer.values == [MxData(10, "mx1.test"), MxData(20, "mx2.test")]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_nxdomain_is_an_answer_cached_for_the_soa_negative_ttl(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        clock = Clock()
        server = await started(soa=(3600, 30))
        resolver = DnsResolver(config(server), clock=clock)
        first = await resolver.query("1.0.0.127.bl.test", A)
        assert (first.rcode, first.records, first.from_cache) == (NXDOMAIN, (), False)
        clock.now = 29.9
        assert (await resolver.query("1.0.0.127.bl.test", A)).from_cache
        clock.now = 30.0
        assert not (await resolver.query("1.0.0.127.bl.test", A)).from_cache
        assert len(server.queries) == 2
        assert resolver.stats().expired == 1
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_nodata_is_an_empty_noerror_answer(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started(soa=(60, 60))
        resolver = DnsResolver(config(server))
        answer = await resolver.query("2.0.0.127.bl.test", MX)
        assert (answer.rcode, answer.records) == (NOERROR, ())
        assert (await resolver.query("2.0.0.127.bl.test", MX)).from_cache
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_negative_answer_without_soa_is_asked_again(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        for _ in range(2):
            assert (await resolver.query("nothing.test", A)).rcode == NXDOMAIN
        assert len(server.queries) == 2
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_cache_size_zero_asks_every_time(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server, cache_size=0))
        for _ in range(3):
            assert not (await resolver.query("2.0.0.127.bl.test", A)).from_cache
        assert len(server.queries) == 3
        await resolver.aclose()
        await server.close()

    run(scenario)


# --- concurrency ------------------------------------------------------------------------------


def test_identical_queries_in_flight_share_one_packet(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.hold = True
        resolver = DnsResolver(config(server))
        same = [asyncio.ensure_future(resolver.query("2.0.0.127.bl.test", A)) for _ in range(20)]
        other = asyncio.ensure_future(resolver.query("2.0.0.127.bl.test", TXT))
        await server.wait_for_queries(2)
        server.release()
        answers = await asyncio.gather(*same)
        assert all(answer.values == ["127.0.0.2"] for answer in answers)
        assert (await other).rdtype == TXT
        assert sorted(query.rdtype for query in server.queries) == ["A", "TXT"]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_a_cancelled_waiter_leaves_the_others_their_answer(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.hold = True
        resolver = DnsResolver(config(server))
        cancelled = asyncio.ensure_future(resolver.query("2.0.0.127.bl.test", A))
        patient = asyncio.ensure_future(resolver.query("2.0.0.127.bl.test", A))
        await server.wait_for_queries(1)
        cancelled.cancel()
        server.release()
        assert (await patient).values == ["127.0.0.2"]
        assert cancelled.cancelled()
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_many_distinct_queries_in_flight_get_distinct_ids_and_their_own_answers(
    run: Callable[[Scenario], None],
) -> None:
    # 200: the fake's socket buffer holds about 256 queries; long tries: nothing is sent twice
    count = 200
    addresses = [f"10.0.{number // 256}.{number % 256}" for number in range(count)]
    records = {(f"{number}.many.test.", "A"): [address] for number, address in enumerate(addresses)}

    async def scenario() -> None:
        server = await started(records)
        server.faults.hold = True
        resolver = DnsResolver(config(server, try_timeout=60))
        tasks = [asyncio.ensure_future(resolver.query(f"{number}.many.test", A)) for number in range(count)]
        await server.wait_for_queries(count)
        assert len({query.query_id for query in server.queries}) == count
        server.release()
        answers = await asyncio.gather(*tasks)
        assert [answer.values for answer in answers] == [[address] for address in addresses]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_queries_spread_over_the_socket_pool_and_sockets_are_renewed(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server, cache_size=0), sockets_per_server=2, queries_per_socket=3)
        for _ in range(12):
            assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        ports = [query.source_port for query in server.queries]
        assert ports[0] != ports[1]  # two sockets take turns
        assert len(set(ports)) >= 4  # each renewed after three queries
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_a_renewed_socket_still_takes_the_answers_it_waits_for(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.hold = True
        resolver = DnsResolver(config(server), sockets_per_server=1, queries_per_socket=1)
        names = ["2.0.0.127.bl.test", "alias.test", "real.test"]
        tasks = [asyncio.ensure_future(resolver.query(name, A)) for name in names]
        await server.wait_for_queries(3)
        assert len({query.source_port for query in server.queries}) == 3
        server.release()
        answers = await asyncio.gather(*tasks)
        assert [answer.values for answer in answers] == [
            ["127.0.0.2"], ["127.0.0.5", "127.0.0.6"], ["127.0.0.5", "127.0.0.6"],
        ]  # fmt: skip
        await resolver.aclose()
        await server.close()

    run(scenario)


# --- what a resolver must not believe ---------------------------------------------------------


@pytest.mark.parametrize(
    "fault", ["wrong_id_first", "wrong_port_first", "wrong_question_first", "garbage_first"]
)
def test_decoys_are_ignored_and_the_real_answer_taken(run: Callable[[Scenario], None], fault: str) -> None:
    async def scenario() -> None:
        server = await started()
        setattr(server.faults, fault, True)
        resolver = DnsResolver(config(server))
        answer = await resolver.query("2.0.0.127.bl.test", A)
        assert answer.values == ["127.0.0.2"]
        assert DECOY_ADDRESS not in answer.values
        await resolver.aclose()
        await server.close()

    run(scenario)


# --- failures and retries ---------------------------------------------------------------------


def test_silence_times_out_after_all_attempts(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.drop = 1000
        resolver = DnsResolver(config(server, try_timeout=0.05, attempts=3))
        with pytest.raises(DnsLookupError, match=r"^query timed out$") as failure:
            await resolver.query("2.0.0.127.bl.test", A)
        assert (failure.value.name, failure.value.rdtype) == ("2.0.0.127.bl.test", A)
        assert len(server.queries) == 3
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_a_lost_query_is_sent_again(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.drop = 1
        resolver = DnsResolver(config(server, try_timeout=0.3, attempts=2))
        assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        assert len(server.queries) == 2
        assert server.queries[0].query_id != server.queries[1].query_id
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_tries_go_round_the_nameservers_in_order(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        first, second = await start_nameservers(RECORDS, 2)
        first.faults.drop = 1000
        resolver = DnsResolver(config(first, first.host, second.host, try_timeout=0.3, cache_size=0))
        for _ in range(2):
            assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        assert (len(first.queries), len(second.queries)) == (2, 2)  # every look-up starts at the first
        await resolver.aclose()
        for server in (first, second):
            await server.close()

    run(scenario)


def test_rotate_starts_each_look_up_at_the_next_nameserver(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        first, second = await start_nameservers(RECORDS, 2)
        resolver = DnsResolver(config(first, first.host, second.host, rotate=True, cache_size=0))
        for _ in range(4):
            await resolver.query("2.0.0.127.bl.test", A)
        assert (len(first.queries), len(second.queries)) == (2, 2)
        await resolver.aclose()
        for server in (first, second):
            await server.close()

    run(scenario)


def test_servfail_moves_on_at_once_and_fails_when_every_server_did(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        servers = await start_nameservers(RECORDS, 2)
        for server in servers:
            server.faults.rcode = SERVFAIL
        # one attempt of a minute each: waiting for a timeout anywhere would fail the test
        resolver = DnsResolver(config(servers[0], *(s.host for s in servers), try_timeout=60, attempts=1))
        with pytest.raises(DnsLookupError, match=r"^SERVFAIL$"):
            await resolver.query("2.0.0.127.bl.test", A)
        assert [len(server.queries) for server in servers] == [1, 1]
        servers[1].faults.rcode = None
        assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        await resolver.aclose()
        for server in servers:
            await server.close()

    run(scenario)


def test_unreachable_nameserver_is_skipped_without_waiting(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        (server,) = await start_nameservers(RECORDS, 1)
        # nothing listens on 127.0.0.9 at this port: ICMP port unreachable, at once
        resolver = DnsResolver(config(server, "127.0.0.9", server.host, try_timeout=60, attempts=1))
        assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        alone = DnsResolver(config(server, "127.0.0.9", try_timeout=60, attempts=1))
        with pytest.raises(DnsLookupError, match="Connection refused"):
            await alone.query("2.0.0.127.bl.test", A)
        for resolver_ in (resolver, alone):
            await resolver_.aclose()
        await server.close()

    run(scenario)


def test_ipv6_nameserver(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        (server,) = await start_nameservers(RECORDS, 1, hosts=["::1"])
        resolver = DnsResolver(config(server))
        assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_truncated_answer_is_asked_again_over_tcp(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.truncate = True
        resolver = DnsResolver(config(server))
        assert (await resolver.query("2.0.0.127.bl.test", TXT)).values == [
            (b"Listed, see http://bl.test/?127.0.0.2", b"second")
        ]
        assert [query.tcp for query in server.queries] == [False, True]
        await resolver.aclose()
        await server.close()

    run(scenario)


def test_impossible_name_raises_value_error_and_leaves_nothing_in_flight(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        with pytest.raises(ValueError):
            await resolver.query("a" * 64 + ".test", A)
        assert (await resolver.query("2.0.0.127.bl.test", A)).values == ["127.0.0.2"]
        await resolver.aclose()
        await server.close()

    run(scenario)


# --- life cycle -------------------------------------------------------------------------------


def test_aclose_fails_what_is_in_flight_and_refuses_more(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        server.faults.hold = True
        resolver = DnsResolver(config(server))
        pending = asyncio.ensure_future(resolver.query("2.0.0.127.bl.test", A))
        await server.wait_for_queries(1)
        await resolver.aclose()
        with pytest.raises(DnsLookupError, match="resolver closed"):
            await pending
        with pytest.raises(RuntimeError):
            await resolver.query("other.test", A)
        await server.close()

    run(scenario)


def test_resolver_can_only_be_made_inside_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        DnsResolver(ResolverConfig())


def test_query_from_thread_runs_on_the_resolvers_loop() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def setup() -> tuple[FakeNameserver, DnsResolver]:
        server = await started()
        return server, DnsResolver(config(server))

    server, resolver = asyncio.run_coroutine_threadsafe(setup(), loop).result(10)
    try:
        assert resolver.query_from_thread("2.0.0.127.bl.test", A).values == ["127.0.0.2"]
        server.faults.rcode = SERVFAIL
        with pytest.raises(DnsLookupError, match="SERVFAIL"):
            resolver.query_from_thread("3.0.0.127.bl.test", A)

        async def on_the_loop() -> None:
            resolver.query_from_thread("2.0.0.127.bl.test", A)

        with pytest.raises(RuntimeError, match="own loop"):
            asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(resolver.aclose(), loop).result(10)
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_describe_is_the_configs_line(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        server = await started()
        resolver = DnsResolver(config(server))
        assert resolver.describe() == resolver.config.describe()
        assert f"port {server.port}" in resolver.describe()
        await resolver.aclose()
        await server.close()

    run(scenario)
