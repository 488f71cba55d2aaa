"""A simulated smtpd's policy client: one connection per service, reused the way Postfix does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from policy_sim.endpoint import Endpoint
from policy_sim.protocol import PolicyReply, ProtocolError, encode_request, read_reply

#: What Postfix answers itself when the policy service cannot be asked.
POSTFIX_DEFAULT_ACTION = "451 4.3.5 Server configuration problem"


@dataclass(frozen=True)
class ClientSettings:
    """Postfix's ``smtpd_policy_service_*`` parameters, with Postfix's defaults."""

    reuse_limit: int = 0  # requests per connection; 0 = unlimited
    max_idle: float = 300.0  # seconds a connection may sit unused
    max_ttl: float = 1000.0  # seconds a connection may live
    timeout: float = 100.0  # seconds for connect, send and reply
    try_limit: int = 2  # attempts per request
    retry_delay: float = 1.0  # seconds between attempts
    default_action: str = POSTFIX_DEFAULT_ACTION


@dataclass(frozen=True)
class Exchange:
    """One request's outcome: the reply (None when every attempt failed) and what went wrong."""

    action: str
    reply: PolicyReply | None
    latency: float
    failures: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        """True when the server answered (possibly after a retry)."""
        return self.reply is not None


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened_at: float
    last_used: float
    requests: int = 0

    def reusable(self, settings: ClientSettings, now: float) -> bool:
        """False when Postfix would have closed it: too old, idle too long, used up, or closed."""
        if self.reader.at_eof() or self.writer.is_closing():
            return False
        if settings.reuse_limit and self.requests >= settings.reuse_limit:
            return False
        return now - self.last_used < settings.max_idle and now - self.opened_at < settings.max_ttl

    def close(self) -> None:
        self.writer.close()


@dataclass
class SmtpdClient:
    """The policy connections of one simulated smtpd process (one per service endpoint)."""

    settings: ClientSettings = field(default_factory=ClientSettings)
    connections_opened: int = 0
    _connections: dict[Endpoint, _Connection] = field(default_factory=dict)

    async def ask(self, endpoint: Endpoint, attributes: Mapping[str, str]) -> Exchange:
        """Send one request like Postfix: reuse or (re)open the connection, retry once on failure."""
        payload = encode_request(attributes)
        started = time.monotonic()
        failures: list[str] = []
        for attempt in range(self.settings.try_limit):
            if attempt:
                await asyncio.sleep(self.settings.retry_delay)
            connection = self._connections.get(endpoint)
            if connection is not None and not connection.reusable(self.settings, time.monotonic()):
                connection.close()
                del self._connections[endpoint]
            try:
                reply = await asyncio.wait_for(self._exchange(endpoint, payload), self.settings.timeout)
            except (OSError, ProtocolError, TimeoutError, asyncio.IncompleteReadError) as error:
                self._drop(endpoint)
                failures.append(f"{endpoint}: {_describe(error)}")
                continue
            return Exchange(reply.action, reply, time.monotonic() - started, tuple(failures))
        return Exchange(self.settings.default_action, None, time.monotonic() - started, tuple(failures))

    async def _exchange(self, endpoint: Endpoint, payload: bytes) -> PolicyReply:
        connection = self._connections.get(endpoint)
        if connection is None:
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
            now = time.monotonic()
            connection = _Connection(reader, writer, now, now)
            self._connections[endpoint] = connection
            self.connections_opened += 1
        connection.writer.write(payload)
        await connection.writer.drain()
        reply = await read_reply(connection.reader)
        connection.requests += 1
        connection.last_used = time.monotonic()
        return reply

    def _drop(self, endpoint: Endpoint) -> None:
        connection = self._connections.pop(endpoint, None)
        if connection is not None:
            connection.close()

    async def close(self) -> None:
        """Close every connection (the smtpd process exits)."""
        for connection in self._connections.values():
            connection.close()
        for connection in self._connections.values():
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()
        self._connections.clear()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
