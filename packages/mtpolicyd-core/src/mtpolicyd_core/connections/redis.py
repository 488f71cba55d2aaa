"""``<Connection> module = "Redis"``: a redis-py asyncio client (TCP ``server`` or UNIX ``sock``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.optional import import_extra

if TYPE_CHECKING:
    import redis.asyncio

DEFAULT_SERVER = "127.0.0.1:6379"
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0


class RedisConnection:
    """Options ``server`` (host:port), ``sock``, ``db``, ``password``, ``timeout`` (seconds)."""

    errors: tuple[type[BaseException], ...]

    def __init__(self, config: ConnectionConfig) -> None:
        redis_package = import_extra("redis", f"connection {config.name} (module Redis)", config.location)
        self.errors = (redis_package.RedisError, OSError, TimeoutError)
        options = config.options
        self.name = config.name
        self.server = options.get("server", DEFAULT_SERVER)
        self.sock = options.get("sock")
        self.db = int(options.get("db", "0"))
        self.password = options.get("password")
        self.timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        self._client: redis.asyncio.Redis | None = None

    def describe(self) -> str:
        """``redis NAME (address)`` for error messages."""
        return f"redis {self.name} ({self.sock or self.server})"

    @property
    def handle(self) -> redis.asyncio.Redis:
        """The client (connections opened on use in the running loop); it reconnects after a failure."""
        if self._client is None:
            import redis.asyncio  # noqa: PLC0415 - the [redis] extra, found by __init__
            from redis.asyncio.retry import Retry  # noqa: PLC0415
            from redis.backoff import NoBackoff  # noqa: PLC0415

            # one immediate retry covers a pooled connection the server closed; no back-off sleeps
            common = {
                "db": self.db,
                "password": self.password,
                "socket_timeout": self.timeout,
                "socket_connect_timeout": self.timeout,
                "retry": Retry(NoBackoff(), 1),
            }
            if self.sock:
                self._client = redis.asyncio.Redis(unix_socket_path=self.sock, **common)  # type: ignore[arg-type]
            else:
                host, _, port = self.server.rpartition(":")
                self._client = redis.asyncio.Redis(host=host or self.server, port=int(port or 6379), **common)  # type: ignore[arg-type]
        return self._client

    async def get(self, key: str) -> bytes | None:
        """``GET``."""
        value = await self.handle.get(key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """``SET key value EX ttl`` (no expiry for a ttl of 0)."""
        await self.handle.set(key, value, ex=ttl or None)

    async def delete(self, key: str) -> None:
        """``DEL``."""
        await self.handle.delete(key)

    def reconnect(self) -> None:
        """Forget the parent's client (after fork); the next use connects again."""
        self._client = None

    async def aclose(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
