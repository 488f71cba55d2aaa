"""Session primitives on memcached: ``add`` takes the lock, keys as the original names them."""

from __future__ import annotations

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
