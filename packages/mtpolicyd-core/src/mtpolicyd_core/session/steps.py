"""Lock-and-load and store-and-unlock as two steps, for back-ends with nothing to gain by combining.

A back-end that can save a round trip (memcached, when one server holds both keys) overrides
them; the lock protocol itself (:mod:`mtpolicyd_core.session.locking`) only calls these.
"""

from __future__ import annotations

from typing import Protocol


class _Primitives(Protocol):
    async def add_lock(self, key: str, token: str, ttl: int) -> bool: ...

    async def delete_lock(self, key: str, token: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: int) -> None: ...


class OneAfterAnother:
    """The lock, then the value; the value, then the unlock."""

    async def lock_and_get(
        self: _Primitives, lock_key: str, token: str, ttl: int, key: str
    ) -> tuple[bool, bytes | None]:
        """Take the lock; when taken, the value at ``key`` too. A failed load releases the lock."""
        if not await self.add_lock(lock_key, token, ttl):
            return False, None
        try:
            return True, await self.get(key)
        except BaseException:
            await self.delete_lock(lock_key, token)
            raise

    async def set_and_unlock(
        self: _Primitives, key: str, value: bytes, ttl: int, lock_key: str, token: str
    ) -> None:
        """Store ``value`` at ``key``, then release the lock (also when storing failed)."""
        try:
            await self.set(key, value, ttl)
        finally:
            await self.delete_lock(lock_key, token)
