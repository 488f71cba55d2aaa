"""``<Connection> module = "Memcached"``: a pymemcache HashClient over one or more servers."""

from __future__ import annotations

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.perl.comma_list import comma_list

DEFAULT_SERVERS = "127.0.0.1:11211"
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT = 1.0
#: seconds a failed server stays out of the ring before it is tried again
DEAD_TIMEOUT = 1.0


def parse_servers(servers: str) -> list[tuple[str, int]]:
    """``"host:port, host2:port2"`` (as Cache::Memcached takes them) as (host, port) pairs."""
    pairs = []
    for spec in comma_list(servers.strip()):
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
        self._client: Client | HashClient | None = None

    def describe(self) -> str:
        """``memcached NAME (servers)`` for error messages."""
        return f"memcached {self.name} ({self.servers})"

    @property
    def handle(self) -> Client | HashClient:
        """One server: a Client that reconnects on its next command after an error. Several: a
        HashClient over them, where a failed server raises at once and rejoins after DEAD_TIMEOUT."""
        if self._client is None:
            servers = parse_servers(self.servers)
            common = {"connect_timeout": self.timeout, "timeout": self.timeout,
                      "key_prefix": self.namespace.encode(), "default_noreply": False}
            if len(servers) == 1:
                self._client = Client(servers[0], **common)
            else:
                self._client = HashClient(servers, retry_attempts=0, dead_timeout=DEAD_TIMEOUT,
                                          **common)
        return self._client

    def reconnect(self) -> None:
        """Drop the sockets; the next use connects again (after fork)."""
        self._client = None

    def close(self) -> None:
        """Close every server's socket."""
        if self._client is not None:
            self._client.close()
            self._client = None
