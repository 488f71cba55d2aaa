"""Session values in a key/value store connection (memcached, Redis); each back-end takes its lock."""

from __future__ import annotations

from typing import Self

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections.key_value import KeyValueStore
from mtpolicyd_core.session.steps import OneAfterAnother


class StoreBackend(OneAfterAnother):
    """``get``/``set`` go straight to the store; subclasses add ``add_lock``/``delete_lock``."""

    #: whether session keys carry the instance as a Redis Cluster hash tag
    hash_tags = False

    def __init__(self, connection: KeyValueStore) -> None:
        self.connection = connection
        self.errors = connection.errors

    @classmethod
    def for_session(cls, connection: KeyValueStore, config: SessionCacheConfig) -> Self:
        """The back-end over ``connection`` for the ``<SessionCache>`` of ``config``."""
        return cls(connection)

    def describe(self) -> str:
        """The connection, for error messages."""
        return self.connection.describe()

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None."""
        return await self.connection.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store with expiry."""
        await self.connection.set(key, value, ttl)

    def reconnect(self) -> None:
        """Forget the parent's client."""
        self.connection.reconnect()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()
