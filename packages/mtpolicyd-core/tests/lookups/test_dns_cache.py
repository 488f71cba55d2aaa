"""The answer cache: LRU by size, expiry by TTL on an injected clock, RFC 2308 negative TTLs."""

from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.lookups.dns_cache import CacheStats, DnsCache, answer_ttl
from mtpolicyd_core.lookups.dns_wire import (
    CNAME,
    NOERROR,
    NS,
    NXDOMAIN,
    SERVFAIL,
    SOA,
    A,
    ResourceRecord,
    SoaData,
)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(rdtype: int = A, ttl: int = 300, data: object = "127.0.0.2") -> ResourceRecord:
    return ResourceRecord("2.0.0.127.bl.test", rdtype, 1, ttl, data)  # type: ignore[arg-type]


def soa(ttl: int, minimum: int) -> ResourceRecord:
    return record(SOA, ttl, SoaData("ns.bl.test", "hostmaster.bl.test", 1, 3600, 600, 86400, minimum))


def test_entry_lives_until_its_ttl_and_is_counted_as_expired() -> None:
    clock = Clock()
    cache: DnsCache[str] = DnsCache(10, clock=clock)
    cache.put(("a.test", A), "answer", 30)
    clock.now += 29.9
    assert cache.get(("a.test", A)) == "answer"
    clock.now += 0.1
    assert cache.get(("a.test", A)) is None
    assert cache.stats() == CacheStats(size=0, max_entries=10, hits=1, misses=1, expired=1, evicted=0)


def test_least_recently_used_entry_goes_first() -> None:
    cache: DnsCache[int] = DnsCache(2, clock=Clock())
    cache.put(("a", A), 1, 60)
    cache.put(("b", A), 2, 60)
    assert cache.get(("a", A)) == 1  # now b is the least recently used
    cache.put(("c", A), 3, 60)
    assert (cache.get(("a", A)), cache.get(("b", A)), cache.get(("c", A))) == (1, None, 3)
    assert cache.stats().evicted == 1


def test_size_zero_turns_the_cache_off() -> None:
    cache: DnsCache[int] = DnsCache(0, clock=Clock())
    cache.put(("a", A), 1, 60)
    assert cache.get(("a", A)) is None
    assert len(cache) == 0


def test_ttl_is_capped_at_max_ttl_and_zero_keeps_nothing() -> None:
    clock = Clock()
    cache: DnsCache[int] = DnsCache(10, max_ttl=100, clock=clock)
    cache.put(("long", A), 1, 86400)
    cache.put(("zero", A), 2, 0)
    assert cache.get(("zero", A)) is None
    clock.now += 100
    assert cache.get(("long", A)) is None


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        DnsCache(-1)


@given(
    st.lists(
        st.tuples(st.sampled_from(["get", "put", "tick"]), st.integers(0, 5), st.integers(0, 20)),
        max_size=60,
    )
)
def test_cache_behaves_like_a_reference_model(operations: list[tuple[str, int, int]]) -> None:
    clock = Clock()
    cache: DnsCache[int] = DnsCache(3, max_ttl=15, clock=clock)
    model: OrderedDict[int, tuple[float, int]] = OrderedDict()
    for operation, key, number in operations:
        if operation == "tick":
            clock.now += number
        elif operation == "put":
            ttl = min(number, 15)
            if ttl:
                model[key] = (clock.now + ttl, number)
                model.move_to_end(key)
                if len(model) > 3:
                    model.popitem(last=False)
            cache.put((str(key), A), number, number)
        else:
            entry = model.get(key)
            expected = None
            if entry is not None and entry[0] > clock.now:
                expected = entry[1]
                model.move_to_end(key)
            elif entry is not None:
                del model[key]
            assert cache.get((str(key), A)) == expected
    assert len(cache) == len(model)


# --- how long an answer may be kept -----------------------------------------------------------


def test_positive_answer_lives_as_long_as_its_shortest_record() -> None:
    answer = [record(CNAME, 600, "other.test"), record(A, 300), record(A, 900)]
    assert answer_ttl(NOERROR, True, answer, [record(NS, 60, "ns.test")]) == 300


def test_nxdomain_lives_for_the_smaller_of_soa_ttl_and_minimum() -> None:
    assert answer_ttl(NXDOMAIN, False, [], [soa(3600, 30)]) == 30
    assert answer_ttl(NXDOMAIN, False, [], [soa(20, 30)]) == 20


def test_nodata_is_negative_and_bounded_by_the_cname_on_the_way() -> None:
    assert answer_ttl(NOERROR, False, [], [soa(3600, 300)]) == 300
    assert answer_ttl(NOERROR, False, [record(CNAME, 60, "x.test")], [soa(3600, 300)]) == 60


def test_negative_answer_without_soa_is_not_cached() -> None:
    assert answer_ttl(NXDOMAIN, False, [], []) is None
    assert answer_ttl(NOERROR, False, [], [record(NS, 60, "ns.test")]) is None


def test_failures_are_not_cached() -> None:
    assert answer_ttl(SERVFAIL, False, [], [soa(3600, 300)]) is None


def test_soa_minimum_with_the_top_bit_set_counts_as_zero() -> None:
    assert answer_ttl(NXDOMAIN, False, [], [soa(3600, 0x80000000)]) == 0
