"""Session primitives on memcached: ``add`` takes the lock, keys as the original names them."""

from __future__ import annotations

import asyncio

from mtpolicyd_core.connections.memcached import MemcachedConnection
from mtpolicyd_core.session.store_backend import StoreBackend


class MemcachedBackend(StoreBackend):
    """Lock ``lock_<instance>`` via ``add``; the lock is deleted without an owner check, as the original."""

    connection: MemcachedConnection

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """memcached ``add``: atomic create-if-absent."""
        return await self.connection.add(key, token.encode(), ttl)

    async def delete_lock(self, key: str, token: str) -> None:
        """memcached ``delete`` (it cannot compare and delete in one step)."""
        await self.connection.delete(key)

    async def lock_and_get(self, lock_key: str, token: str, ttl: int, key: str) -> tuple[bool, bytes | None]:
        """``add`` and ``get`` sent together when one server holds both keys (memcached answers a
        connection's commands in order, so the value read is the one the previous holder stored)."""
        if not self.connection.same_server(lock_key, key):
            return await super().lock_and_get(lock_key, token, ttl, key)
        added, found = await asyncio.gather(
            self.connection.add(lock_key, token.encode(), ttl),
            self.connection.get(key),
            return_exceptions=True,
        )
        if isinstance(added, BaseException):
            raise added
        if not added:
            return False, None
        if isinstance(found, BaseException):
            await self.delete_lock(lock_key, token)
            raise found
        return True, found

    async def set_and_unlock(self, key: str, value: bytes, ttl: int, lock_key: str, token: str) -> None:
        """``set`` and ``delete`` sent together when one server holds both keys (in order on it);
        else one after the other, so no one takes the lock before the session is stored."""
        if not self.connection.same_server(lock_key, key):
            await super().set_and_unlock(key, value, ttl, lock_key, token)
            return
        outcomes = await asyncio.gather(
            self.connection.set(key, value, ttl), self.delete_lock(lock_key, token), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
