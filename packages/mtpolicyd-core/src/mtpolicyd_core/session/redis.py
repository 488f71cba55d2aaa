"""Session primitives on Redis: ``SET NX EX`` takes the lock, released only by its owner."""

from __future__ import annotations

import redis

from mtpolicyd_core.connections.redis import RedisConnection

#: delete the lock only while it still holds our token (a lock that expired may be someone else's now)
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisBackend:
    """Keys as the original: ``lock_<instance>`` and ``<instance>``, namespace in front."""

    errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def describe(self) -> str:
        """The connection, for error messages."""
        return self.connection.describe()

    def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """``SET key token NX EX ttl``."""
        return bool(self.connection.handle.set(key, token, nx=True, ex=ttl))

    def delete_lock(self, key: str, token: str) -> None:
        """Compare-and-delete in one script."""
        self.connection.handle.eval(RELEASE_SCRIPT, 1, key, token)

    def get(self, key: str) -> bytes | None:
        """``GET``."""
        value = self.connection.handle.get(key)
        return value.encode() if isinstance(value, str) else value

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """``SET key value EX ttl``."""
        self.connection.handle.set(key, value, ex=ttl)

    def reconnect(self) -> None:
        """Re-open the connection."""
        self.connection.reconnect()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
