"""Session primitives on Redis: the lock is set if absent and released only by its owner.

On a Redis Cluster the session and lock keys carry the instance as a hash tag, so both live in one
slot (one primary, one fail-over); see :meth:`LockingSessionCache.session_key`.
"""

from __future__ import annotations

from mtpolicyd_core.connections.redis import RedisConnection


class RedisBackend:
    """Keys as the original: ``lock_<instance>`` and ``<instance>``, namespace in front."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self.errors = connection.errors
        self.hash_tags = connection.is_cluster

    def describe(self) -> str:
        """The connection, for error messages."""
        return self.connection.describe()

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """``SET key token NX EX ttl`` in a script that also says yes to our own token (a repeated try)."""
        return await self.connection.add_lock(key, token, ttl)

    async def delete_lock(self, key: str, token: str) -> None:
        """Compare-and-delete in one script."""
        await self.connection.delete_lock(key, token)

    async def get(self, key: str) -> bytes | None:
        """``GET``."""
        return await self.connection.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """``SET key value EX ttl``."""
        await self.connection.set(key, value, ttl)

    def reconnect(self) -> None:
        """Forget the parent's client."""
        self.connection.reconnect()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()
