"""Session primitives on Redis: the lock is set if absent and released only by its owner.

On a Redis Cluster the session and lock keys carry the instance as a hash tag, so both live in one
slot (one primary, one fail-over); see :meth:`LockingSessionCache.session_key`.
"""

from __future__ import annotations

from mtpolicyd_core.connections.redis import RedisConnection
from mtpolicyd_core.session.store_backend import StoreBackend


class RedisBackend(StoreBackend):
    """Keys as the original: ``lock_<instance>`` and ``<instance>``, namespace in front."""

    connection: RedisConnection

    def __init__(self, connection: RedisConnection) -> None:
        super().__init__(connection)
        self.hash_tags = connection.is_cluster

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """``SET key token NX EX ttl`` in a script that also says yes to our own token (a repeated try)."""
        return await self.connection.add_lock(key, token, ttl)

    async def delete_lock(self, key: str, token: str) -> None:
        """Compare-and-delete in one script."""
        await self.connection.delete_lock(key, token)
