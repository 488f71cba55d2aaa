"""``<Connection> module = "Redis"``: redis-py's asyncio clients on one server, a Sentinel-watched
primary, or a Redis Cluster, with the commands the daemon uses retried through a fail-over.

Which server answers: ``cluster`` (ours) → ``redis.asyncio.cluster.RedisCluster`` (MOVED and ASK
followed by redis-py); else ``sentinels`` with ``service`` (as the original) → the primary
``Sentinel.master_for`` finds, asked again after a fail-over; else ``sock``; else ``server``.

Every command goes through :meth:`RedisConnection.run`: a connection refused or broken, a time-out,
``CLUSTERDOWN``, ``TRYAGAIN``, a demoted primary or no primary known are tried again with growing
pauses for at most ``failover_timeout`` seconds, then the error goes to the caller (the session
cache's failure policy answers). Commands the daemon sends are safe to repeat: reads, ``SET``,
compare-and-delete, and the lock's set-if-absent-or-ours.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import redis.asyncio
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClusterDownError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.configured import (
    COUNT,
    SECONDS,
    SWITCH,
    ConfiguredConnection,
    ConnectionOptionError,
)
from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.perl.comma_list import comma_list

DEFAULT_SERVER: Final = "127.0.0.1:6379"
DEFAULT_PORT: Final = 6379
#: seconds to connect and to wait for an answer: far below the request timeout
DEFAULT_TIMEOUT: Final = 1.0
#: seconds a command keeps being tried while a primary fails over
DEFAULT_FAILOVER_TIMEOUT: Final = 2.0
#: first pause between two tries, doubled each time up to MAX_PAUSE
FIRST_PAUSE: Final = 0.05
MAX_PAUSE: Final = 0.5
ADDRESS: Final = re.compile(
    r"\[(?P<ipv6>[^\]\s]+)\](?::(?P<port6>\d+))?|(?P<host>[^\s:\[\]]+)(?::(?P<port>\d+))?"
)

#: failures of the path to the primary, not of the command: worth another try during a fail-over
#: (redis-py turns a demoted primary's READONLY into a ConnectionError on Sentinel connections)
PASSING_FAILURES: Final = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
)
#: failures that another try cannot mend
LASTING_FAILURES: Final = (AuthenticationError, AuthorizationError)

#: take the lock if absent, or say yes when it already holds our token (a repeated try whose
#: first answer was lost): one key, so one slot
ADD_LOCK_SCRIPT: Final = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""
#: delete the lock only while it still holds our token (a lock that expired may be someone else's now)
RELEASE_SCRIPT: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

log = logging.getLogger("mtpolicyd.redis")
T = TypeVar("T")


def parse_address(spec: str, what: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[IPv6]:port`` as (host, port); ValueError naming ``what``."""
    match = ADDRESS.fullmatch(spec.strip())
    port = int(match["port6"] or match["port"] or DEFAULT_PORT) if match else 0
    if match is None or not 0 < port < 65536:
        raise ValueError(f"{what}: cannot read {spec!r} (want host, host:port or [IPv6]:port)")
    return match["ipv6"] or match["host"], port


def parse_addresses(text: str, what: str) -> list[tuple[str, int]]:
    """A comma-separated list of addresses; ValueError when it is empty or one cannot be read."""
    addresses = [parse_address(spec, what) for spec in comma_list(text.strip())]
    if not addresses:
        raise ValueError(f"{what}: no address given")
    return addresses


class RedisConnection(ConfiguredConnection):
    """Redis: one server (``server`` or ``sock``), the primary of a Sentinel ``service``, or a Cluster."""

    module = "Redis"
    errors: tuple[type[BaseException], ...] = (redis.RedisError, RedisClusterException, OSError, TimeoutError)

    server = Option(STR, default=DEFAULT_SERVER, doc="`host:port` of a single Redis server")
    sock = Option(maybe(STR), doc="path of the UNIX socket of a single Redis server (wins over `server`)")
    sentinels = Option(
        maybe(STR),
        doc="comma-separated `host:port` of Redis Sentinels; with `service` they name the primary to use"
        " (wins over `sock` and `server`), asked again after a fail-over",
    )
    service = Option(maybe(STR), doc="the service (master name) the Sentinels watch")
    service_name = Option(maybe(STR), doc="ours: another name for `service` (as redis-py calls it)")
    cluster = Option(
        maybe(STR),
        doc="ours: comma-separated `host:port` of some nodes of a Redis Cluster (the others are found);"
        " session keys then carry hash tags, see docs/sessions.md",
    )
    db = Option(COUNT, default="0", doc="database number (a Cluster has only 0)")
    password = Option(maybe(STR), doc="password of the Redis servers (not of the Sentinels)")
    debug = Option(SWITCH, default="0", doc="accepted as in the original; ignored")
    namespace = Option(STR, default="", doc="ours: prefix of session and lock keys")
    timeout = Option(
        SECONDS, default=str(DEFAULT_TIMEOUT), doc="ours: seconds to connect and to wait for each answer"
    )
    failover_timeout = Option(
        NUM,
        default=str(int(DEFAULT_FAILOVER_TIMEOUT)),
        doc="ours: seconds a command is tried again (with growing pauses) while the server cannot be"
        " reached, a primary fails over or the cluster is down; 0: no second try. Keep it below"
        " `request_timeout`",
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._client: Any = None
        self._sentinel: Sentinel | None = None
        self._failing_since: float | None = None

    def check(self) -> None:
        if self.failover_timeout < 0:
            raise ConnectionOptionError("failover_timeout", "failover_timeout must not be negative")
        if self.cluster is not None:
            for other in ("sentinels", "sock"):
                if getattr(self, other) is not None:
                    raise ConnectionOptionError(other, f"{other} and cluster exclude each other")
            if self.db != 0:
                raise ConnectionOptionError("db", "a Redis Cluster has only database 0")
            self._parse("cluster", self.cluster)
        elif self.sentinels is not None and self.service_of_sentinels is not None:
            self._parse("sentinels", self.sentinels)
        elif self.sock is None:
            try:
                parse_address(self.server, "server")
            except ValueError as error:
                raise ConnectionOptionError("server", str(error)) from None

    @staticmethod
    def _parse(option: str, text: str) -> list[tuple[str, int]]:
        try:
            return parse_addresses(text, option)
        except ValueError as error:
            raise ConnectionOptionError(option, str(error)) from None

    @property
    def service_of_sentinels(self) -> str | None:
        """The Sentinel service (``service``, else ``service_name``); None or empty: no Sentinels."""
        return self.service or self.service_name or None

    @property
    def kind(self) -> str:
        """``cluster``, ``sentinel``, ``sock`` or ``server``: which client answers (as the original picks)."""
        if self.cluster is not None:
            return "cluster"
        if self.sentinels is not None and self.service_of_sentinels is not None:
            return "sentinel"
        return "sock" if self.sock is not None else "server"

    @property
    def is_cluster(self) -> bool:
        """Whether keys are spread over the slots of a Redis Cluster."""
        return self.kind == "cluster"

    def describe(self) -> str:
        """``redis NAME (address)`` for error messages."""
        kind = self.kind
        if kind == "cluster":
            where = f"cluster {self.cluster}"
        elif kind == "sentinel":
            where = f"service {self.service_of_sentinels} of sentinels {self.sentinels}"
        else:
            where = self.sock if kind == "sock" and self.sock else self.server
        return f"redis {self.name} ({where})"

    @property
    def handle(self) -> Any:
        """redis-py's client (``Redis`` or ``RedisCluster``), connecting on use in the running loop.

        Use :meth:`run` (or the commands below) to have a command tried again during a fail-over.
        """
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        # one immediate retry inside redis-py covers a pooled connection the server closed; our own
        # loop in run() covers the rest, bounded in time
        common: dict[str, Any] = {
            "password": self.password,
            "socket_timeout": float(self.timeout),
            "socket_connect_timeout": float(self.timeout),
            "retry": Retry(NoBackoff(), 1),
        }
        kind = self.kind
        if kind == "cluster":
            nodes = [ClusterNode(host, port) for host, port in self._parse("cluster", self.cluster or "")]
            # serve the slots that have a primary even while another primary's slots have none
            return RedisCluster(startup_nodes=nodes, require_full_coverage=False, **common)
        if kind == "sentinel":
            timeouts = {key: common[key] for key in ("socket_timeout", "socket_connect_timeout")}
            sentinels = self._parse("sentinels", self.sentinels or "")
            self._sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **timeouts)  # type: ignore[no-untyped-call]
            return self._sentinel.master_for(str(self.service_of_sentinels), db=self.db, **common)
        if kind == "sock":
            return redis.asyncio.Redis(unix_socket_path=self.sock, db=self.db, **common)
        host, port = parse_address(self.server, "server")
        return redis.asyncio.Redis(host=host, port=port, db=self.db, **common)

    async def run(self, command: Callable[[Any], Awaitable[T]]) -> T:
        """``command(client)``, tried again on passing failures for at most ``failover_timeout`` s."""
        deadline = time.monotonic() + float(self.failover_timeout)
        pause = FIRST_PAUSE
        while True:
            try:
                result = await command(self.handle)
            except LASTING_FAILURES:
                raise
            except PASSING_FAILURES as error:
                now = time.monotonic()
                if self._failing_since is None:
                    self._failing_since = now
                    log.warning(
                        "%s: %s; trying again for up to %s s", self.describe(), error, self.failover_timeout
                    )
                if now + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
                continue
            if self._failing_since is not None:
                since, self._failing_since = self._failing_since, None
                log.warning("%s: answering again after %.1f s", self.describe(), time.monotonic() - since)
            return result

    async def get(self, key: str) -> bytes | None:
        """``GET``."""
        value = await self.run(lambda client: client.get(key))
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """``SET key value EX ttl`` (no expiry for a ttl of 0)."""
        await self.run(lambda client: client.set(key, value, ex=ttl or None))

    async def delete(self, key: str) -> None:
        """``DEL``."""
        await self.run(lambda client: client.delete(key))

    async def incr(self, key: str) -> int:
        """``INCR``: the new value."""
        return int(await self.run(lambda client: client.incr(key)))

    async def expire(self, key: str, ttl: int) -> None:
        """``EXPIRE key ttl``."""
        await self.run(lambda client: client.expire(key, ttl))

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """Set ``key`` to ``token`` for ``ttl`` s if absent; True also when it already holds ``token``."""
        return bool(await self.run(lambda client: client.eval(ADD_LOCK_SCRIPT, 1, key, token, ttl)))

    async def delete_lock(self, key: str, token: str) -> None:
        """Delete ``key`` only while it holds ``token`` (compare-and-delete in one script)."""
        await self.run(lambda client: client.eval(RELEASE_SCRIPT, 1, key, token))

    def reconnect(self) -> None:
        """Forget the parent's client (after fork); the next use connects again."""
        self._client = None
        self._sentinel = None
        self._failing_since = None

    async def aclose(self) -> None:
        """Close the client's connections (and the Sentinels')."""
        client, self._client = self._client, None
        sentinel, self._sentinel = self._sentinel, None
        if client is not None:
            await client.aclose()
        if sentinel is not None:
            for sentinel_client in sentinel.sentinels:
                await sentinel_client.aclose()
