"""Greylisting tickets: the time from which a (sender, client, recipient) triplet may pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.perl.truth import perl_true

#: 2.x defaults of the ticket back-ends (and 1.x defaults of the plugin options)
MIN_RETRY_WAIT = 60 * 5
MAX_RETRY_WAIT = 60 * 60 * 2


def ticket_key(sender: str | None, client_address: str | None, recipient: str | None) -> str:
    """The store key of a triplet: ``sender,client_address,recipient``."""
    return ",".join(part or "" for part in (sender, client_address, recipient))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class TicketStore(Protocol):
    """Where tickets live; a ticket is the epoch second after which the triplet passes."""

    def get(self, key: str) -> int | None: ...

    def create(self, key: str) -> None: ...

    def remove(self, key: str) -> None: ...

    def expire(self) -> None: ...


def is_valid(ticket: int) -> bool:
    """Whether the minimum retry wait of the ticket is over."""
    return time.time() > ticket


def _ticket_value(raw: Any) -> int | None:
    """A stored ticket, None when missing or false (as the original tests it)."""
    text = _text(raw)
    if not perl_true(text):
        return None
    return int(perl_numify(text))


class MemcachedTickets:
    """Tickets in memcached, expiring after ``max_retry_wait``; ``client`` gives the current client."""

    def __init__(
        self,
        client: Callable[[], Any],
        min_retry_wait: int = MIN_RETRY_WAIT,
        max_retry_wait: int = MAX_RETRY_WAIT,
    ) -> None:
        self.client = client
        self.min_retry_wait = min_retry_wait
        self.max_retry_wait = max_retry_wait

    def get(self, key: str) -> int | None:
        return _ticket_value(self.client().get(key))

    def create(self, key: str) -> None:
        self.client().set(key, str(int(time.time()) + self.min_retry_wait), expire=self.max_retry_wait)

    def remove(self, key: str) -> None:
        self.client().delete(key)

    def expire(self) -> None:
        """Nothing to do: memcached drops old tickets itself."""


class RedisTickets:
    """Tickets in Redis, expiring after ``max_retry_wait``; ``client`` gives the current client."""

    def __init__(
        self,
        client: Callable[[], Any],
        min_retry_wait: int = MIN_RETRY_WAIT,
        max_retry_wait: int = MAX_RETRY_WAIT,
    ) -> None:
        self.client = client
        self.min_retry_wait = min_retry_wait
        self.max_retry_wait = max_retry_wait

    def get(self, key: str) -> int | None:
        return _ticket_value(self.client().get(key))

    def create(self, key: str) -> None:
        self.client().set(key, str(int(time.time()) + self.min_retry_wait), ex=self.max_retry_wait)

    def remove(self, key: str) -> None:
        self.client().delete(key)

    def expire(self) -> None:
        """Nothing to do: Redis drops old tickets itself."""
