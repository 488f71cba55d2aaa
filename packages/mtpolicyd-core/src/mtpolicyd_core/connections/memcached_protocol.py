"""An asyncio client for one memcached server: the text protocol, commands pipelined on one connection.

memcached answers a connection's commands in the order they were sent, so each sent command waits on
a future in a FIFO and every answer resolves the oldest one. A timeout, a broken connection or an
answer that fits no command closes the connection and fails every pending command: a late answer can
never be paired with a later command. The next command connects again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Final, TypeAlias, cast

from mtpolicyd_core.connections.memcached_errors import (
    MemcachedConnectionError,
    MemcachedConnectionLost,
    MemcachedError,
    MemcachedKeyError,
    MemcachedNotConnected,
    MemcachedProtocolError,
    MemcachedServerError,
    MemcachedTimeout,
)

DEFAULT_PORT: Final = 11211
#: seconds to connect and to wait for each answer: far below the request timeout
DEFAULT_TIMEOUT: Final = 1.0
#: commands sent and not yet answered on one connection; more wait for an answer
DEFAULT_MAX_IN_FLIGHT: Final = 256
MAX_KEY_LENGTH: Final = 250
MAX_DELTA: Final = 2**64 - 1
#: seconds between finding the oldest command overdue and giving up on it: one more loop pass reads
#: answers that came while the loop was blocked (uvloop 0.17 runs due timers before reading sockets)
LAST_POLL: Final = 0.001

#: one-line answers → the command's result (True: done; False: not stored, not found)
STORE_ANSWERS: Final = {b"STORED": True, b"NOT_STORED": False, b"EXISTS": False, b"NOT_FOUND": False}
DELETE_ANSWERS: Final = {b"DELETED": True, b"NOT_FOUND": False}
TOUCH_ANSWERS: Final = {b"TOUCHED": True, b"NOT_FOUND": False}
FLUSH_ANSWERS: Final = {b"OK": True}
VALUE_END: Final = b"\r\nEND\r\n"

#: what a pending command expects: a one-line answer table, the key a ``get`` asked for, or None for
#: the number ``incr``/``decr`` answer
Expect: TypeAlias = dict[bytes, bool] | bytes | None
Pending: TypeAlias = tuple[asyncio.Future[Any], Expect, float]
_UNKNOWN: Final[Any] = object()


class _OutOfStep(Exception):
    """The answers no longer fit the pending commands: the connection must be closed."""

    def __init__(
        self, error: type[MemcachedError], message: str, oldest: MemcachedError | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        #: what the oldest pending command fails with, if not ``error``
        self.oldest = oldest


def is_key_text(text: str) -> bool:
    """Whether memcached takes ``text`` in a key: no blanks, no control characters."""
    return text.isprintable() and " " not in text


def _value_size(line: bytes, key: bytes) -> int:
    """The data length announced by ``VALUE <key> <flags> <bytes> [<cas>]``."""
    parts = line.split(b" ")
    if len(parts) not in (4, 5) or parts[1] != key or not parts[3].isdigit():
        raise _OutOfStep(MemcachedProtocolError, f"answer {line[:80]!r} does not fit 'get {key.decode()}'")
    return int(parts[3])


def _number(line: bytes) -> Any:
    """The answer to ``incr``/``decr``: the new value, None for NOT_FOUND, otherwise unknown."""
    digits = line.rstrip(b" ")
    if digits.isdigit():
        return int(digits)
    return None if line == b"NOT_FOUND" else _UNKNOWN


class PipelinedConnection(asyncio.Protocol):
    """One connection: sends commands and resolves the oldest pending one with each answer."""

    def __init__(self, server: str, timeout: float, slot_waiters: deque[asyncio.Future[None]]) -> None:
        self.server = server
        self.timeout = timeout
        #: sent commands waiting for their answer, oldest first
        self.pending: deque[Pending] = deque()
        #: no command may be sent any more: the connection is closed or closing
        self.closed = False
        self._loop = asyncio.get_running_loop()
        #: done when the transport is gone
        self.lost: asyncio.Future[None] = self._loop.create_future()
        self._slot_waiters = slot_waiters
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._buffer_needed = 0
        self._timer: asyncio.TimerHandle | None = None
        self._overdue: asyncio.Future[Any] | None = None
        #: commands of this loop pass not written yet: one write (one system call) carries them all
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def send(self, command: bytes, expect: Expect, deadline: float) -> asyncio.Future[Any]:
        """Write ``command``; the future gets its answer, or fails when the connection does."""
        future = self._loop.create_future()
        self.pending.append((future, expect, deadline))
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(command)
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_deadline)
        return future

    def _flush(self) -> None:
        """Write the commands queued during this loop pass (a session's lock and get go together)."""
        commands, self._outgoing = self._outgoing, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(commands))

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._buffer_needed:
                return
            data = bytes(self._buffer)
            self._buffer.clear()
        try:
            used, answered = self._parse(data)
        except _OutOfStep as broken:
            if broken.oldest is not None:
                self._fail_oldest(broken.oldest)
            self.abort(broken.error, broken.message)
            return
        if used < len(data):
            self._buffer += memoryview(data)[used:]
        if self._slot_waiters:
            self._wake(answered)

    def _parse(self, data: bytes) -> tuple[int, int]:
        """Resolve pending commands from the complete answers in ``data``: (bytes used, answers)."""
        pending = self.pending
        position = answered = 0
        self._buffer_needed = 0
        while pending:
            end = data.find(b"\r\n", position)
            if end < 0:
                break
            future, expect, _ = pending[0]
            line = data[position:end]
            following = end + 2
            if isinstance(expect, dict):
                result = expect.get(line, _UNKNOWN)
            elif expect is None:
                result = _number(line)
            elif line == b"END":
                result = None
            elif line.startswith(b"VALUE "):
                stop = following + _value_size(line, expect)
                if len(data) < stop + len(VALUE_END):
                    self._buffer_needed = stop + len(VALUE_END) - position
                    break
                if data[stop : stop + len(VALUE_END)] != VALUE_END:
                    raise _OutOfStep(
                        MemcachedProtocolError, f"value of {expect.decode()} not followed by END"
                    )
                result = data[following:stop]
                following = stop + len(VALUE_END)
            else:
                result = _UNKNOWN
            if result is _UNKNOWN:
                result = self._error_answer(line)
            pending.popleft()
            position = following
            answered += 1
            if future.done():
                pass
            elif isinstance(result, MemcachedServerError):
                future.set_exception(result)
            else:
                future.set_result(result)
        if not pending and position < len(data):
            raise _OutOfStep(
                MemcachedProtocolError, f"answer {data[position : position + 80]!r} to no command"
            )
        return position, answered

    def _error_answer(self, line: bytes) -> MemcachedServerError:
        """The error for a command answered ``SERVER_ERROR …``; _OutOfStep for anything else.

        After ``ERROR`` or ``CLIENT_ERROR`` memcached may have read data as a command, so the stream
        may be out of step: their command fails, the connection is closed, the others fail with it.
        """
        text = line[:200].decode(errors="replace")
        error = MemcachedServerError(text, self.server)
        if line.startswith(b"SERVER_ERROR"):
            return error
        if line.startswith((b"CLIENT_ERROR", b"ERROR")):
            raise _OutOfStep(MemcachedConnectionError, f"connection closed after {text!r}", error)
        raise _OutOfStep(MemcachedProtocolError, f"unexpected answer {text!r}")

    def _check_deadline(self) -> None:
        """Timer at the oldest pending command's deadline: close the connection if it is unanswered."""
        self._timer = None
        if self.closed or not self.pending:
            return
        oldest, _, deadline = self.pending[0]
        if deadline > self._loop.time():
            self._timer = self._loop.call_at(deadline, self._check_deadline)
        elif self._overdue is not oldest:
            self._overdue = oldest
            self._timer = self._loop.call_later(LAST_POLL, self._check_deadline)
        else:
            self.abort(MemcachedTimeout, f"no answer within {self.timeout} s")

    def abort(self, error: type[MemcachedError], message: str) -> None:
        """Close at once and fail every pending command with ``error``."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
        self._fail_pending(error, message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f": {exc}" if exc else ""
        self._fail_pending(MemcachedConnectionLost, f"connection closed by the server{reason}")
        if not self.lost.done():
            self.lost.set_result(None)

    def _fail_oldest(self, error: MemcachedError) -> None:
        future = self.pending.popleft()[0]
        if not future.done():
            future.set_exception(error)

    def _fail_pending(self, error: type[MemcachedError], message: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.pending:
            future = self.pending.popleft()[0]
            if not future.done():
                future.set_exception(error(message, self.server))
        self._wake(len(self._slot_waiters))

    def _wake(self, count: int) -> None:
        """Let up to ``count`` commands waiting for room on the connection go on."""
        waiters = self._slot_waiters
        while count and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1


class MemcachedClient:
    """memcached commands on one server over one pipelined connection, opened on first use.

    ``namespace`` prefixes every key. Each command, waiting for room and connecting included, takes
    at most ``timeout`` seconds. A command that was sent on a connection the server then closed
    (memcached restarted) is sent once more on a new connection — except ``incr`` and ``decr``,
    which must not count twice; a repeated ``add`` or ``delete`` at worst reports False.
    Nothing connects before the first command; the connection belongs to that command's loop, so
    a client serves one loop (a pre-forked worker makes its own) and is closed with ``aclose()``.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        namespace: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.host = host
        self.port = port
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.namespace = namespace
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.max_in_flight = max_in_flight
        if not is_key_text(namespace) or len(namespace.encode()) >= MAX_KEY_LENGTH:
            raise MemcachedKeyError(f"cannot take namespace {namespace[:300]!r} in keys", self.address)
        self._prefix = namespace.encode()
        self._connection: PipelinedConnection | None = None
        self._connecting: asyncio.Task[PipelinedConnection] | None = None
        self._slot_waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"MemcachedClient({self.address})"

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, None if there is none."""
        encoded = self._key(key)
        value: bytes | None = await self._run(b"get " + encoded + b"\r\n", encoded)
        return value

    async def set(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` for ``exptime`` seconds (0: no expiry; over 30 days: a Unix time)."""
        return await self._store(b"set", key, value, exptime)

    async def add(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` only if ``key`` holds nothing; False if it does."""
        return await self._store(b"add", key, value, exptime)

    async def replace(self, key: str, value: bytes, exptime: int = 0) -> bool:
        """Store ``value`` only if ``key`` holds something; False if not."""
        return await self._store(b"replace", key, value, exptime)

    async def delete(self, key: str) -> bool:
        """Delete ``key``; False if it held nothing."""
        deleted: bool = await self._run(b"delete " + self._key(key) + b"\r\n", DELETE_ANSWERS)
        return deleted

    async def incr(self, key: str, delta: int = 1) -> int | None:
        """Add ``delta`` to the decimal number under ``key``; the new value, None if there is none."""
        return await self._arithmetic(b"incr", key, delta)

    async def decr(self, key: str, delta: int = 1) -> int | None:
        """Subtract ``delta`` (memcached stops at 0); the new value, None if there is none."""
        return await self._arithmetic(b"decr", key, delta)

    async def touch(self, key: str, exptime: int) -> bool:
        """Give ``key`` a new lifetime; False if it holds nothing."""
        command = b"touch %b %d\r\n" % (self._key(key), exptime)
        touched: bool = await self._run(command, TOUCH_ANSWERS)
        return touched

    async def flush_all(self) -> None:
        """Drop every key on the server (tests)."""
        await self._run(b"flush_all\r\n", FLUSH_ANSWERS)

    async def aclose(self) -> None:
        """Close the connection (pending commands fail); a later command would connect again."""
        if self._connecting is not None:
            await asyncio.wait([self._connecting])
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abort(MemcachedConnectionError, "client closed")
            await connection.lost

    async def _store(self, verb: bytes, key: str, value: bytes, exptime: int) -> bool:
        command = b"%b %b 0 %d %d\r\n%b\r\n" % (verb, self._key(key), exptime, len(value), value)
        stored: bool = await self._run(command, STORE_ANSWERS)
        return stored

    async def _arithmetic(self, verb: bytes, key: str, delta: int) -> int | None:
        if not 0 <= delta <= MAX_DELTA:
            raise ValueError(f"memcached {verb.decode()} takes a delta from 0 to 2**64-1, not {delta}")
        value: int | None = await self._run(b"%b %b %d\r\n" % (verb, self._key(key), delta), None, False)
        return value

    def _key(self, key: str) -> bytes:
        """``key`` with the namespace, as memcached takes it; MemcachedKeyError if it cannot."""
        if is_key_text(key):
            encoded = self._prefix + key.encode()
            if 0 < len(encoded) <= MAX_KEY_LENGTH:
                return encoded
        raise MemcachedKeyError(
            f"cannot take key {key[:300]!r} (after namespace {self.namespace!r}: 1-{MAX_KEY_LENGTH} bytes,"
            " no blanks or control characters); hash it",
            self.address,
        )

    async def _run(self, command: bytes, expect: Expect, resend: bool = True) -> Any:
        """Send ``command`` and wait for its answer; once more if the server closed the connection."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        connection = self._connection
        if connection is None or connection.closed or len(connection.pending) >= self.max_in_flight:
            connection = await self._ready(deadline)
        try:
            return await connection.send(command, expect, deadline)
        except MemcachedConnectionLost:
            if not resend or asyncio.get_running_loop().time() >= deadline:
                raise
        return await (await self._ready(deadline)).send(command, expect, deadline)

    async def _ready(self, deadline: float) -> PipelinedConnection:
        """An open connection with room for one more command, by ``deadline``."""
        woken = False
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    connection = self._connection
                    if connection is None or connection.closed:
                        connection = await self._connected()
                    room = len(connection.pending) < self.max_in_flight
                    if room and (woken or not self._slot_waiters):
                        return connection
                    waiter = asyncio.get_running_loop().create_future()
                    self._slot_waiters.append(waiter)
                    await waiter
                    woken = True
        except TimeoutError:
            raise MemcachedTimeout(
                f"no connection or no room within {self.timeout} s", self.address
            ) from None

    async def _connected(self) -> PipelinedConnection:
        """Open the connection, once for every command waiting for it."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
            self._connecting.add_done_callback(_retrieve_exception)
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> PipelinedConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: PipelinedConnection(self.address, self.timeout, self._slot_waiters),
                    self.host,
                    self.port,
                )
        except TimeoutError:
            raise MemcachedTimeout(
                f"could not connect within {self.connect_timeout} s", self.address
            ) from None
        except OSError as error:
            raise MemcachedNotConnected(f"could not connect: {error}", self.address) from None
        finally:
            self._connecting = None
        self._connection = connection
        return connection


def _retrieve_exception(task: asyncio.Task[PipelinedConnection]) -> None:
    """A failed connect nobody waits for any more is not an unhandled error."""
    if not task.cancelled():
        task.exception()
