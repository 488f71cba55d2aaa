"""A worker's DNS answer cache: least recently used out beyond a size, every entry gone after its TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mtpolicyd_core.lookups.dns_wire import NOERROR, NXDOMAIN, SOA, ResourceRecord, SoaData

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_TTL = 86_400

#: (name in lower case, record type)
CacheKey = tuple[str, int]
Value = TypeVar("Value")


@dataclass(frozen=True)
class CacheStats:
    """Counters for ``mtpolicyd -d`` and metrics; ``expired``/``evicted`` count entries dropped
    for their TTL and for room."""

    size: int
    max_entries: int
    hits: int
    misses: int
    expired: int
    evicted: int


class DnsCache(Generic[Value]):
    """LRU bounded by ``max_entries`` (0 turns the cache off); TTLs capped at ``max_ttl`` seconds."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_ttl: int = DEFAULT_MAX_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 0 or max_ttl < 0:
            raise ValueError("DNS cache size and max TTL must not be negative")
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, Value]] = OrderedDict()
        self._hits = self._misses = self._expired = self._evicted = 0

    def get(self, key: CacheKey) -> Value | None:
        """The live entry for ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            self._misses += 1
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            self._expired += 1
            self._misses += 1
            return None
        self._entries.move_to_end(key)
        self._hits += 1
        return entry[1]

    def put(self, key: CacheKey, value: Value, ttl: int) -> None:
        """Keep ``value`` for ``ttl`` seconds (at most ``max_ttl``); a TTL of 0 keeps nothing."""
        ttl = min(ttl, self.max_ttl)
        if ttl <= 0 or not self.max_entries:
            return
        entries = self._entries
        entries[key] = (self._clock() + ttl, value)
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)
            self._evicted += 1

    def clear(self) -> None:
        """Forget every entry (the counters stay)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        """The current counters."""
        return CacheStats(
            len(self._entries), self.max_entries, self._hits, self._misses, self._expired, self._evicted
        )


def answer_ttl(
    rcode: int, found: bool, answer: Sequence[ResourceRecord], authority: Sequence[ResourceRecord]
) -> int | None:
    """Seconds an answer may be kept, or None if it may not be cached.

    Positive (``found``: records of the asked type): the smallest TTL in the answer section.
    Negative (NXDOMAIN, or NOERROR without such records): the authority section's SOA TTL or its
    ``minimum``, whichever is smaller (RFC 2308), and no more than a CNAME on the way; without an
    SOA, not at all. A ``minimum`` with the top bit set counts as 0, like such TTLs (RFC 2181).
    """
    smallest = min((record.ttl for record in answer), default=None)
    if rcode == NOERROR and found:
        return smallest
    if rcode not in (NOERROR, NXDOMAIN):
        return None
    for record in authority:
        if record.rdtype == SOA and isinstance(record.data, SoaData):
            negative = min(record.ttl, record.data.minimum if record.data.minimum < 0x80000000 else 0)
            return negative if smallest is None else min(negative, smallest)
    return None
