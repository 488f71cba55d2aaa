"""``<Connection> module = "Memcached"``: a pymemcache HashClient over one or more servers."""

from __future__ import annotations

import re

from pymemcache.client.hash import HashClient

from mtpolicyd_core.config.model import ConnectionConfig

DEFAULT_SERVERS = "127.0.0.1:11211"
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0
#: seconds a failed server stays out of the ring before it is tried again
DEAD_TIMEOUT = 1.0


def parse_servers(servers: str) -> list[tuple[str, int]]:
    """``"host:port, host2:port2"`` (as Cache::Memcached takes them) as (host, port) pairs."""
    pairs = []
    for spec in re.split(r"\s*,\s*", servers.strip()):
        host, _, port = spec.rpartition(":")
        pairs.append((host.strip("[]") or spec, int(port) if host else 11211))
    return pairs


class MemcachedConnection:
    """Options ``servers`` (comma list), ``namespace`` (key prefix), ``timeout`` (seconds)."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.name = config.name
        self.servers = config.options.get("servers", DEFAULT_SERVERS)
        self.namespace = config.options.get("namespace", "")
        self.timeout = float(config.options.get("timeout", DEFAULT_TIMEOUT))
        self._client: HashClient | None = None

    def describe(self) -> str:
        """``memcached NAME (servers)`` for error messages."""
        return f"memcached {self.name} ({self.servers})"

    @property
    def handle(self) -> HashClient:
        """The client; a failed server raises at once and rejoins after a second."""
        if self._client is None:
            self._client = HashClient(
                parse_servers(self.servers),
                connect_timeout=self.timeout,
                timeout=self.timeout,
                key_prefix=self.namespace.encode(),
                retry_attempts=0,
                dead_timeout=DEAD_TIMEOUT,
                default_noreply=False,
            )
        return self._client

    def reconnect(self) -> None:
        """Drop the sockets; the next use connects again (after fork)."""
        self._client = None

    def close(self) -> None:
        """Close every server's socket."""
        if self._client is not None:
            self._client.close()
            self._client = None
