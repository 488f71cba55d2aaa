"""A worker process: one asyncio event loop (uvloop when installed) serving many connections and
keeping many requests in flight.

Each connection answers its requests in order; different connections' requests
run concurrently, each waiting on its own DNS, SQL or memcached I/O, at most
``max_concurrent_requests`` at a time (then reading pauses). See
docs/decisions/0005-async-workers.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections import deque
from typing import cast

from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.engine import PolicyEngine, RequestFailed

from mtpolicyd_server.listeners import Listener
from mtpolicyd_server.protocol import Limits, PolicyRequest, ProtocolError, RequestParser, encode_reply
from mtpolicyd_server.scoreboard import WorkerState, WorkerStatus

try:  # imported by the master, before the fork: the workers share its pages
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio's loop still works
    uvloop = None  # type: ignore[assignment]

log = logging.getLogger("mtpolicyd.worker")

#: seconds between heartbeats and timeout checks
TICK = 1.0
#: connections accepted per readiness event, so one worker does not take a whole burst
ACCEPT_BATCH = 16
#: complete requests a connection may have waiting (pipelined) before its reading pauses
PIPELINE_LIMIT = 16


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (less CPU per request), else asyncio's."""
    return asyncio.new_event_loop() if uvloop is None else uvloop.new_event_loop()


class ClientConnection(asyncio.Protocol):
    """One accepted connection: parses requests, answers them in order, enforces its timeouts."""

    def __init__(self, worker: Worker, port: int) -> None:
        self.worker = worker
        self.port = port
        self.parser = RequestParser(worker.limits)
        self.waiting: deque[PolicyRequest] = deque()
        self.transport: asyncio.Transport | None = None
        self.serving: asyncio.Task[None] | None = None
        self.last_activity = time.monotonic()
        self.request_started: float | None = None
        self.served = 0
        self.peer_done = False
        self.close_when_idle = False
        self.closed = False
        self.reading_paused = False
        self.writing_paused = False

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports only quack like one
        self.worker.connection_opened(self)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_activity = now
        try:
            requests = self.parser.feed(data)
        except ProtocolError as error:
            log.error("[%d]: error while reading request: %s: closing connection", self.port, error)
            self.close()
            return
        if requests or not self.parser.pending:
            self.request_started = now if self.parser.pending else None
        elif self.request_started is None:
            self.request_started = now
        if not requests:
            return
        self.waiting.extend(requests)
        if len(self.waiting) >= PIPELINE_LIMIT:
            self._pause_reading()
        if self.serving is None:
            self.serving = asyncio.get_running_loop().create_task(self._serve())

    def eof_received(self) -> bool:
        """The client is done sending: answer what it already sent, then close."""
        self.peer_done = True
        if self.parser.pending:
            log.warning("[%d]: connection closed by peer in the middle of a request", self.port)
        else:
            log.info("[%d]: connection closed by peer", self.port)
        if self.serving is None:
            self.close()
        return True  # keep the transport open for the answers still to come

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.closed:
            log.info("[%d]: connection lost: %s", self.port, exc)
        self._closed()

    def pause_writing(self) -> None:
        """The client takes no answers: read no more requests until it does."""
        self.writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.last_activity = time.monotonic()
        self._resume_reading()

    # -- serving -----------------------------------------------------------------------

    async def _serve(self) -> None:
        """Answer waiting requests one after another (in order), then close if asked to."""
        try:
            while self.waiting and not self.closed:
                request = self.waiting.popleft()
                if len(self.waiting) < PIPELINE_LIMIT // 2:
                    self._resume_reading()
                try:
                    await self.worker.answer(self, request)
                except Exception:  # a bug here must cost one connection, not the worker
                    log.exception("[%d]: unexpected error: closing the connection", self.port)
                    self.abort()
        finally:
            self.serving = None
        if self.peer_done or (self.close_when_idle and self.idle):
            self.close()

    def send(self, reply: bytes) -> None:
        """Queue an answer; after ``max_keepalive`` answers the connection closes once it is sent."""
        if self.closed or self.transport is None:
            return
        self.transport.write(reply)
        self.served += 1
        self.last_activity = time.monotonic()
        limit = self.worker.server.max_keepalive
        if limit and self.served >= limit:
            log.info("[%d]: closing connection after max_keepalive=%d requests", self.port, limit)
            self.waiting.clear()
            self.close()

    @property
    def idle(self) -> bool:
        """Nothing half-read, waiting, being answered or left to send: safe to close."""
        return not self.parser.pending and not self.waiting and self.serving is None and not self.unsent

    @property
    def unsent(self) -> int:
        """Bytes of answers the client has not taken yet."""
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def has_unread_request(self) -> bool:
        """Whether the client sent bytes the loop has not delivered yet (peeked, not consumed)."""
        sock = None if self.transport is None else self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:  # a duplicate descriptor: uvloop's transport sockets refuse recv()
            with socket.socket(fileno=os.dup(sock.fileno())) as peek:
                return bool(peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:  # nothing to read (EAGAIN), or the connection is gone
            return False

    def close(self) -> None:
        """Close once the answers queued so far are sent; no more requests are read."""
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._closed()

    def abort(self) -> None:
        """Close at once, dropping unsent answers."""
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self._closed()

    def _closed(self) -> None:
        self.closed = True
        self.worker.connection_closed(self)

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
            self.reading_paused = True

    def _resume_reading(self) -> None:
        if self.reading_paused and not self.writing_paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()
            self.reading_paused = False
            if self.request_started is not None:  # the client's read_timeout runs again from now
                self.request_started = time.monotonic()


class Worker:
    """Accepts on the shared listeners and serves its connections until told to stop or retired."""

    def __init__(self, engine: PolicyEngine, listeners: list[Listener], status: WorkerStatus) -> None:
        self.engine = engine
        self.server: ServerConfig = engine.config.server
        self.listeners = listeners
        self.status = status
        self.limits = Limits(
            self.server.max_line_length, self.server.max_request_size, self.server.max_request_attributes
        )
        self.connections: set[ClientConnection] = set()
        self.accepting = True
        #: connections accepted so far: Net::Server's ``max_requests`` counts connections
        self.accepted = 0
        self.in_flight = 0
        self.drain_deadline = 0.0
        self._slots: asyncio.Semaphore | None = None
        self._done: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life -------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until drained; the process exit status."""
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(self.serve())
        finally:
            loop.close()

    async def serve(self) -> int:
        """The worker's life inside its loop."""
        self._loop = loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.server.max_concurrent_requests)
        self._done = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.retire, "shutting down")
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the master forked us with signals blocked
        for listener in self.listeners:
            loop.add_reader(listener.fileno(), self._accept, listener)
        log.debug("worker started")
        ticker = loop.create_task(self._tick())
        try:
            await self._done.wait()
        finally:
            ticker.cancel()
            await self.engine.aclose()
        log.debug("worker exiting after %d requests", self.status.read()[2])
        return 0

    async def _tick(self) -> None:
        """Heartbeat and connection timeouts, once a TICK (a stuck loop stops the heartbeat)."""
        while True:
            self.status.beat()
            self._expire(time.monotonic())
            await asyncio.sleep(TICK)

    def retire(self, why: str) -> None:
        """Stop accepting; close idle connections, answer what the others hold, then exit."""
        if not self.accepting:
            return
        log.info("worker retiring (%s)", why)
        self.accepting = False
        self.status.set_state(WorkerState.DRAINING)
        self.drain_deadline = (
            time.monotonic() + self.server.read_timeout + (self.server.request_timeout or 60)
        )
        for listener in self.listeners:
            if self._loop is not None:
                self._loop.remove_reader(listener.fileno())
            listener.close()
        for conn in list(self.connections):
            conn.close_when_idle = True
            try:
                if conn.idle and not conn.has_unread_request():
                    conn.close()
            except Exception:  # one connection's fault must not stop the retirement
                log.exception("[%d]: unexpected error while retiring: closing the connection", conn.port)
                conn.abort()
        self._check_drained()

    def _check_drained(self) -> None:
        if not self.accepting and not self.connections and self._done is not None:
            self._done.set()

    # -- connections ------------------------------------------------------------------

    def _accept(self, listener: Listener) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self.accepting:
                return
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # another worker was faster
            except OSError as error:
                log.error("[%d]: accept failed: %s", listener.port, error)
                return
            sock.setblocking(False)
            self.accepted += 1
            log.debug("accepted connection on port %d from %s", listener.port, peer)
            assert self._loop is not None
            self._loop.create_task(self._start(sock, listener.port))
            if self.server.max_requests and self.accepted >= self.server.max_requests:
                self.retire(f"served max_requests={self.server.max_requests}")

    async def _start(self, sock: socket.socket, port: int) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(lambda: ClientConnection(self, port), sock)
        except OSError as error:
            log.error("[%d]: could not set up connection: %s", port, error)
            sock.close()

    def connection_opened(self, conn: ClientConnection) -> None:
        """Count a new connection (a retiring worker still serves it: it was accepted before)."""
        self.connections.add(conn)
        self.status.set_connections(len(self.connections))
        if not self.accepting:
            conn.close_when_idle = True

    def connection_closed(self, conn: ClientConnection) -> None:
        """Forget a closed connection."""
        if conn in self.connections:
            self.connections.discard(conn)
            self.status.set_connections(len(self.connections))
        self._check_drained()

    def _expire(self, now: float) -> None:
        server = self.server
        for conn in list(self.connections):
            if (conn.writing_paused or conn.unsent) and now - conn.last_activity > server.read_timeout:
                log.error(
                    "[%d]: client took no answer for read_timeout=%d s: closing connection",
                    conn.port,
                    server.read_timeout,
                )
                conn.abort()
            elif (
                conn.request_started is not None
                and not conn.reading_paused  # not while we hold back reading
                and now - conn.request_started > server.read_timeout
            ):
                log.error(
                    "[%d]: request not complete after read_timeout=%d s: closing connection",
                    conn.port,
                    server.read_timeout,
                )
                conn.abort()
            elif (
                conn.idle and server.keepalive_timeout and now - conn.last_activity > server.keepalive_timeout
            ):
                log.info("[%d]: keepalive timeout: closing connection", conn.port)
                conn.close()
        if not self.accepting and now > self.drain_deadline and self.connections:
            log.warning("closing %d connection(s): drain timeout", len(self.connections))
            for conn in list(self.connections):
                conn.abort()
        self._check_drained()

    # -- requests ---------------------------------------------------------------------

    async def answer(self, conn: ClientConnection, request: PolicyRequest) -> None:
        """Run one request through the engine (within ``request_timeout``) and send the answer."""
        attributes = request.attributes
        if request.invalid_utf8:
            log.warning(
                "[%d]: instance=%s: request is not valid UTF-8; bytes kept as sent",
                conn.port,
                attributes.get("instance"),
            )
        vhost = self.engine.vhost_for(conn.port, attributes)
        if vhost is None:
            log.error("[%d]: no virtual host defined for port %d: closing connection", conn.port, conn.port)
            conn.close()
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: request: %s", vhost.name, ", ".join(f"{k}={v}" for k, v in attributes.items()))
        assert self._slots is not None
        async with self._slots:
            started = time.monotonic()
            self._begin_request()
            try:
                async with asyncio.timeout(self.server.request_timeout or None) as deadline:
                    result = await self.engine.process(vhost, attributes)
            except TimeoutError:
                if not deadline.expired():
                    raise
                log.warning(
                    "[%d]: %s: instance=%s: request timed out after %d s: closing connection",
                    conn.port,
                    vhost.name,
                    attributes.get("instance"),
                    self.server.request_timeout,
                )
                conn.close()
                return
            except RequestFailed as error:
                log.error("error while processing request: %s: closing connection", error)
                conn.close()
                return
            except Exception:  # a fault in the engine must not take the other connections down
                log.exception(
                    "%s: instance=%s: unexpected error: closing connection",
                    vhost.name,
                    attributes.get("instance"),
                )
                conn.close()
                return
            finally:
                self._end_request()
        conn.send(encode_reply(result))
        elapsed_ms = round((time.monotonic() - started) * 1000)
        log.warning(
            "%s: instance=%s, type=%s, t=%dms, plugin=%s, result=%s",
            vhost.name,
            attributes.get("instance", ""),
            attributes.get("request", ""),
            elapsed_ms,
            result.last_match or "",
            result.as_log(),
        )

    def _begin_request(self) -> None:
        self.in_flight += 1
        if self.in_flight >= self.server.max_concurrent_requests:
            self.status.set_state(WorkerState.BUSY)

    def _end_request(self) -> None:
        self.in_flight -= 1
        self.status.count_request()
        if self.accepting and self.in_flight < self.server.max_concurrent_requests:
            self.status.set_state(WorkerState.IDLE)
