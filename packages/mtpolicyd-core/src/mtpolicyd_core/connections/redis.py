"""``<Connection> module = "Redis"``: a redis-py client (TCP ``server`` or UNIX ``sock``)."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mtpolicyd_core.config.model import ConnectionConfig

DEFAULT_SERVER = "127.0.0.1:6379"
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0


class RedisConnection:
    """Options ``server`` (host:port), ``sock``, ``db``, ``password``, ``timeout`` (seconds)."""

    def __init__(self, config: ConnectionConfig) -> None:
        options = config.options
        self.name = config.name
        self.server = options.get("server", DEFAULT_SERVER)
        self.sock = options.get("sock")
        self.db = int(options.get("db", "0"))
        self.password = options.get("password")
        self.timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        self._client: redis.Redis | None = None

    def describe(self) -> str:
        """``redis NAME (address)`` for error messages."""
        return f"redis {self.name} ({self.sock or self.server})"

    @property
    def handle(self) -> redis.Redis:
        """The client; it reconnects by itself after a failed command."""
        if self._client is None:
            # one immediate retry covers a pooled connection the server closed; no back-off sleeps
            common = {"db": self.db, "password": self.password, "socket_timeout": self.timeout,
                      "socket_connect_timeout": self.timeout, "retry": Retry(NoBackoff(), 1)}
            if self.sock:
                self._client = redis.Redis(unix_socket_path=self.sock, **common)  # type: ignore[arg-type]
            else:
                host, _, port = self.server.rpartition(":")
                self._client = redis.Redis(host=host or self.server, port=int(port or 6379),
                                           **common)  # type: ignore[arg-type]
        return self._client

    def reconnect(self) -> None:
        """Drop the connections; the next use connects again (after fork)."""
        self._client = None

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None
