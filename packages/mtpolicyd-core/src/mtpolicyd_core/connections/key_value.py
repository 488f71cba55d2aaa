"""What the memcached and Redis connections both offer: an async key/value store with expiry."""

from __future__ import annotations

from typing import Protocol


class KeyValueStore(Protocol):
    """Keys and values as memcached and Redis keep them; ``ttl`` in seconds."""

    errors: tuple[type[BaseException], ...]

    async def get(self, key: str) -> bytes | None:
        """The value at ``key``, or None."""
        ...

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        ...

    def describe(self) -> str:
        """Kind, name and address, for error messages."""
        ...

    def reconnect(self) -> None:
        """Forget the parent's client (after fork)."""
        ...

    async def aclose(self) -> None:
        """Close the client."""
        ...
