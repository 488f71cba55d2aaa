"""Greylisting tickets: the time from which a (sender, client, recipient) triplet may pass."""

from __future__ import annotations

import time
from collections.abc import Callable

from mtpolicyd_core.connections.key_value import KeyValueStore
from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.perl.truth import perl_true

#: 2.x defaults of the ticket back-ends (and 1.x defaults of the plugin options)
MIN_RETRY_WAIT = 60 * 5
MAX_RETRY_WAIT = 60 * 60 * 2


def ticket_key(sender: str | None, client_address: str | None, recipient: str | None) -> str:
    """The store key of a triplet: ``sender,client_address,recipient``."""
    return ",".join(part or "" for part in (sender, client_address, recipient))


def is_valid(ticket: int) -> bool:
    """Whether the minimum retry wait of the ticket is over."""
    return int(time.time()) > ticket


def ticket_value(raw: bytes | None) -> int | None:
    """A stored ticket, None when missing or false (as the original tests it)."""
    text = None if raw is None else raw.decode("utf-8", errors="replace")
    if not perl_true(text):
        return None
    return int(perl_numify(text))


class Tickets:
    """Tickets in memcached or Redis, expiring after ``max_retry_wait``; ``store`` gives the connection."""

    def __init__(
        self,
        store: Callable[[], KeyValueStore],
        min_retry_wait: int = MIN_RETRY_WAIT,
        max_retry_wait: int = MAX_RETRY_WAIT,
    ) -> None:
        self.store = store
        self.min_retry_wait = min_retry_wait
        self.max_retry_wait = max_retry_wait

    async def get(self, key: str) -> int | None:
        """The ticket of the triplet ``key``, or None."""
        return ticket_value(await self.store().get(key))

    async def create(self, key: str) -> None:
        """A new ticket, valid after ``min_retry_wait``."""
        ticket = str(int(time.time()) + self.min_retry_wait).encode()
        await self.store().set(key, ticket, self.max_retry_wait)

    async def remove(self, key: str) -> None:
        """Forget the ticket (the triplet passed)."""
        await self.store().delete(key)
