"""Session primitives on memcached: ``add`` takes the lock, keys as the original names them."""

from __future__ import annotations

from mtpolicyd_core.connections.memcached import MemcachedConnection


class MemcachedBackend:
    """Lock ``lock_<instance>`` via ``add``; the lock is deleted without an owner check, as the original."""

    hash_tags = False

    def __init__(self, connection: MemcachedConnection) -> None:
        self.connection = connection
        self.errors = connection.errors

    def describe(self) -> str:
        """The connection, for error messages."""
        return self.connection.describe()

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """memcached ``add``: atomic create-if-absent."""
        return await self.connection.add(key, token.encode(), ttl)

    async def delete_lock(self, key: str, token: str) -> None:
        """memcached ``delete`` (it cannot compare and delete in one step)."""
        await self.connection.delete(key)

    async def get(self, key: str) -> bytes | None:
        """memcached ``get``."""
        return await self.connection.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """memcached ``set`` with expiry."""
        await self.connection.set(key, value, ttl)

    def reconnect(self) -> None:
        """Forget the parent's client."""
        self.connection.reconnect()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()
