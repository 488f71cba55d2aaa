"""The typed configuration both dialects (1.x globals, 2.x blocks) are normalized to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mtpolicyd_core.config.tree import Block, Location

Dialect = Literal["1", "2"]
SessionFailureMode = Literal["close", "continue", "action"]


@dataclass(frozen=True)
class ServerConfig:
    """Process, listener and protocol settings (Net::Server::PreFork and the daemon)."""

    user: str | None = None
    group: str | None = None
    pid_file: str | None = None
    log_level: int = 2
    log_file: str | None = None
    syslog_ident: str = "mtpolicyd"
    syslog_facility: str = "mail"
    host: str = "127.0.0.1"
    ports: tuple[str, ...] = ("127.0.0.1:12345",)
    min_servers: int = 4
    min_spare_servers: int = 4
    max_spare_servers: int = 12
    max_servers: int = 25
    max_requests: int = 1000
    chroot: str | None = None
    request_timeout: int = 20
    keepalive_timeout: int = 60
    max_keepalive: int = 0
    vhost_by_policy_context: bool = False
    program_name: str = "mtpolicyd"
    # limits beyond the original
    max_line_length: int = 64 * 1024
    max_request_size: int = 1024 * 1024
    max_request_attributes: int = 1000
    read_timeout: int = 20
    # concurrency inside a worker (docs/decisions/0005-async-workers.md)
    max_concurrent_requests: int = 100
    worker_threads: int = 16
    dns_cache_size: int = 10000
    dns_cache_max_ttl: int = 86400
    # supervision (docs/admin-guide.md "Process life")
    #: a worker retires after between max_requests - jitter and max_requests connections (None: a tenth)
    max_requests_jitter: int | None = None
    #: seconds without a heartbeat after which the master kills a worker (0: never)
    heartbeat_timeout: int = 10
    #: connections one worker holds before it stops accepting (None: from the open-file limit; 0: no cap)
    max_connections_per_worker: int | None = None
    #: seconds a retiring worker keeps kept-alive connections open before closing idle ones
    graceful_timeout: int = 60
    # HTTP endpoints of the master (docs/metrics.md); None: off
    #: ``[host:]port`` serving Prometheus metrics at /metrics
    metrics_address: str | None = None
    #: ``[host:]port`` answering /health once a worker answered a probe request
    health_address: str | None = None


@dataclass(frozen=True)
class ConnectionConfig:
    """A named back-end connection: 2.x ``<Connection NAME>`` or derived from 1.x globals.

    ``options`` holds the block's settings as written, except that a Perl DBI
    ``dsn`` is also given translated as ``url`` (SQLAlchemy); ``option_locations``
    where each was written. The connection class declares what they mean.
    """

    name: str
    module: str
    options: Mapping[str, str]
    location: Location | None = None
    option_locations: Mapping[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionCacheConfig:
    """Which back-end keeps sessions and the lock protocol's parameters."""

    module: str = "None"
    connection: str | None = None
    namespace: str = ""
    expire: int = 300
    lock_wait: int = 50
    lock_max_retry: int = 50
    lock_timeout: int = 10
    failure_mode: SessionFailureMode = "close"
    failure_action: str = "defer_if_permit Service temporarily unavailable"
    options: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None


@dataclass(frozen=True)
class VirtualHostConfig:
    """One ``<VirtualHost PORT>``: its name and its ``<Plugin>`` blocks in file order."""

    port: str
    name: str
    plugins: tuple[Block, ...]
    location: Location
    #: start the chain's DNS look-ups together as the request arrives (postscreen-like)
    parallel_dns: bool = False


@dataclass(frozen=True)
class Config:
    """A whole, validated mtpolicyd.conf."""

    path: str
    dialect: Dialect
    server: ServerConfig
    connections: tuple[ConnectionConfig, ...]
    session_cache: SessionCacheConfig
    vhosts: tuple[VirtualHostConfig, ...]
    root: Block
    #: what was ignored or doubtful while reading (unknown options, skipped includes …)
    warnings: tuple[str, ...] = ()
    #: why this dialect: ``memcached_servers at line 19``, ``<SessionCache> at line 14`` …
    dialect_reason: str = ""
    #: the dialect was told (``--dialect``, ``config_dialect``), not read off the file's contents
    dialect_forced: bool = False

    def connection(self, name: str) -> ConnectionConfig | None:
        """The connection named ``name``, or None."""
        return next((conn for conn in self.connections if conn.name == name), None)
