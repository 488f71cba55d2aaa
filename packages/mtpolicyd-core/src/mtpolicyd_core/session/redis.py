"""Session primitives on Redis: ``SET NX EX`` takes the lock, released only by its owner."""

from __future__ import annotations

from mtpolicyd_core.connections.redis import RedisConnection
from mtpolicyd_core.session.store_backend import StoreBackend

#: delete the lock only while it still holds our token (a lock that expired may be someone else's now)
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisBackend(StoreBackend):
    """Keys as the original: ``lock_<instance>`` and ``<instance>``, namespace in front."""

    connection: RedisConnection

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """``SET key token NX EX ttl``."""
        return bool(await self.connection.handle.set(key, token, nx=True, ex=ttl))

    async def delete_lock(self, key: str, token: str) -> None:
        """Compare-and-delete in one script."""
        await self.connection.handle.eval(RELEASE_SCRIPT, 1, key, token)
