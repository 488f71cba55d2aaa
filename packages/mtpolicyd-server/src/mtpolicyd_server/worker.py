"""A worker process: one asyncio event loop (uvloop when installed) serving many connections and
keeping many requests in flight.

Each connection answers its requests in order; different connections' requests
run concurrently, each waiting on its own DNS, SQL or memcached I/O, at most
``max_concurrent_requests`` at a time (then reading pauses). See
docs/decisions/0005-async-workers.md and, for retirement, accept limits and the
master's death, docs/decisions/0011-worker-faults.md.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import cast

from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.engine import PolicyEngine, RequestFailed
from mtpolicyd_core.runtime.log_context import plugin_context, request_context
from mtpolicyd_core.runtime.metrics import action_word, metrics

from mtpolicyd_server.fd_limits import default_connection_cap, open_file_limit
from mtpolicyd_server.health import PROBE_ANSWER, is_probe
from mtpolicyd_server.lifeline import Lifeline
from mtpolicyd_server.listeners import Listener
from mtpolicyd_server.log_limits import RateLimitedLog
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
#: seconds a worker stops accepting after the kernel refused a descriptor (EMFILE, ENFILE …)
ACCEPT_BACKOFF = 1.0
#: accept() errors that mean "no descriptor or memory now": back off instead of spinning
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
#: seconds a closing connection's unread input is still drained so the answer is not reset away
LINGER = 5.0


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
        self.lingering_since: float | None = None
        self.reading_paused = False
        self.writing_paused = False

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports only quack like one
        self.worker.connection_opened(self)

    def data_received(self, data: bytes) -> None:
        if self.lingering_since is not None:
            return  # what a closing client still sends is read and dropped
        now = time.monotonic()
        self.last_activity = now
        try:
            requests = self.parser.feed(data)
        except ProtocolError as error:
            self.worker.protocol_errors.log(
                logging.ERROR, "[%d]: error while reading request: %s: closing connection", self.port, error
            )
            self.close()
            return
        if requests or not self.parser.pending:
            self.request_started = now if self.parser.pending else None
        elif self.request_started is None:
            self.request_started = now
        if self.parser.ended:
            self._pause_reading()  # an empty request ends the conversation: read no further
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
        if self.lingering_since is not None:
            self._close_transport()
            return False
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
                if len(self.waiting) < PIPELINE_LIMIT // 2 and not self.parser.ended:
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
        self._close_transport()
        self._closed()

    def close_after_answers(self) -> None:
        """Send what is queued, then end our side and drop what the client still sends (a lingering
        close): closing with unread input would reset the connection and could lose the answer."""
        if self.closed:
            return
        self.closed = True
        self.waiting.clear()
        if self.transport is None or self.peer_done or not self.transport.can_write_eof():
            self._close_transport()
            self._closed()
            return
        self.lingering_since = time.monotonic()
        self.transport.write_eof()  # after the queued answers
        self.writing_paused = False
        self._resume_reading(force=True)

    def abort(self) -> None:
        """Close at once, dropping unsent answers."""
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self._closed()

    def _close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _closed(self) -> None:
        self.closed = True
        self.worker.connection_closed(self)

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
            self.reading_paused = True

    def _resume_reading(self, force: bool = False) -> None:
        blocked = self.writing_paused or self.transport is None or (self.closed and not force)
        if self.reading_paused and not blocked:
            assert self.transport is not None
            self.transport.resume_reading()
            self.reading_paused = False
            if self.request_started is not None:  # the client's read_timeout runs again from now
                self.request_started = time.monotonic()


class Worker:
    """Accepts on the shared listeners and serves its connections until told to stop or retired."""

    def __init__(
        self,
        engine: PolicyEngine,
        listeners: list[Listener],
        status: WorkerStatus,
        lifeline: Lifeline | None = None,
        wake_master: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.server: ServerConfig = engine.config.server
        self.listeners = listeners
        self.status = status
        self.lifeline = lifeline
        self.wake_master = wake_master
        self.limits = Limits(
            self.server.max_line_length, self.server.max_request_size, self.server.max_request_attributes
        )
        self.connections: set[ClientConnection] = set()
        self.accepting = True
        self.graceful = True
        #: connections accepted so far: Net::Server's ``max_requests`` counts connections
        self.accepted = 0
        self.max_connections = retirement_count(self.server)
        #: accepted sockets not yet closed (including those whose protocol is still being set up)
        self.open_sockets = 0
        self.connection_cap = connection_cap(self.server)
        self.accept_paused = False
        self.in_flight = 0
        self.retired_at = 0.0
        self.protocol_errors = RateLimitedLog(log)
        #: out of descriptors or at the cap: one line per ten seconds says so
        self.capacity_notes = RateLimitedLog(log, burst=1, period=10.0)
        self._slots: asyncio.Semaphore | None = None
        self._done: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume_handle: asyncio.TimerHandle | None = None

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
            loop.add_signal_handler(signum, self.retire, "shutting down", False)
        # Net::Server's children finish their connection on HUP: the master retires us so
        loop.add_signal_handler(signal.SIGHUP, self.retire, "told to retire", True)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the master forked us with signals blocked
        if self.lifeline is not None:
            loop.add_reader(self.lifeline.read_fd, self._check_master)
        self._start_accepting()
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
            self.protocol_errors.flush(logging.ERROR)
            await asyncio.sleep(TICK)

    def _check_master(self) -> None:
        assert self.lifeline is not None
        if self.lifeline.master_gone():
            assert self._loop is not None
            self._loop.remove_reader(self.lifeline.read_fd)
            self.retire("master process gone", False)

    def retire(self, why: str, graceful: bool = True) -> None:
        """Stop accepting and exit once every connection held is done.

        Graceful (``max_requests``, HUP, surplus): connections stay open and are
        served; idle ones close by the usual rules, or after ``graceful_timeout``.
        Otherwise (TERM, the master's death): idle connections close at once,
        requests already sent are answered.
        """
        if not self.accepting and (graceful or not self.graceful):
            return
        now = time.monotonic()
        if self.accepting:
            log.info("worker retiring (%s)", why)
            self.accepting = False
            self.retired_at = now
            self._stop_accepting()
            for listener in self.listeners:
                listener.close()
            self._publish_state()
            if self.wake_master is not None:
                self.wake_master()  # a replacement starts now, not at the master's next tick
        elif not graceful:
            log.info("worker stopping (%s)", why)
        self.graceful = graceful
        if not graceful:
            self.retired_at = now
            self._close_idle_connections()
        self._check_drained()

    def _close_idle_connections(self) -> None:
        for conn in list(self.connections):
            conn.close_when_idle = True
            try:
                if conn.idle and not conn.has_unread_request():
                    conn.close()
            except Exception:  # one connection's fault must not stop the retirement
                log.exception("[%d]: unexpected error while retiring: closing the connection", conn.port)
                conn.abort()

    @property
    def drain_deadline(self) -> float:
        """When a retiring worker aborts what it still holds."""
        grace = self.server.graceful_timeout if self.graceful else 0
        return self.retired_at + grace + self.server.read_timeout + (self.server.request_timeout or 60)

    def _check_drained(self) -> None:
        """Done once retiring and nothing is held: no connection, none accepted but still being set up."""
        if not self.accepting and not self.connections and self.open_sockets <= 0 and self._done is not None:
            self._done.set()

    # -- accepting --------------------------------------------------------------------

    def _start_accepting(self) -> None:
        assert self._loop is not None
        for listener in self.listeners:
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    def _stop_accepting(self) -> None:
        if self._loop is None:
            return
        for listener in self.listeners:
            if listener.sock.fileno() >= 0:
                self._loop.remove_reader(listener.fileno())

    def _pause_accepting(self, seconds: float | None) -> None:
        """Leave new connections to other workers: until below the cap, or for ``seconds``."""
        if not self.accept_paused:
            self.accept_paused = True
            self._stop_accepting()
            self._publish_state()
        if seconds is not None and self._loop is not None and self._resume_handle is None:
            self._resume_handle = self._loop.call_later(seconds, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._resume_handle = None
        if not self.accept_paused or not self.accepting or self._at_cap(margin=1):
            return
        self.accept_paused = False
        self._start_accepting()
        self._publish_state()

    def _at_cap(self, margin: int = 0) -> bool:
        return bool(self.connection_cap) and self.open_sockets + margin > self.connection_cap

    def _accept(self, listener: Listener) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self.accepting or self.accept_paused:
                return
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # another worker was faster
            except OSError as error:
                self._accept_failed(listener, error)
                return
            sock.setblocking(False)
            self.accepted += 1
            self.open_sockets += 1
            log.debug("accepted connection on port %d from %s", listener.port, peer)
            assert self._loop is not None
            self._loop.create_task(self._start(sock, listener.port))
            if self.max_connections and self.accepted >= self.max_connections:
                self.retire(f"served max_requests={self.server.max_requests}")
            elif self._at_cap(margin=1):
                self.capacity_notes.log(
                    logging.INFO,
                    "holding %d connections (max_connections_per_worker=%d): not accepting more for now",
                    self.open_sockets,
                    self.connection_cap,
                )
                self._pause_accepting(None)

    def _accept_failed(self, listener: Listener, error: OSError) -> None:
        if error.errno in _OUT_OF_RESOURCES:
            self.capacity_notes.log(
                logging.ERROR,
                "[%d]: accept failed: %s (%d connections open): not accepting for %.0f s",
                listener.port,
                error.strerror or error,
                self.open_sockets,
                ACCEPT_BACKOFF,
            )
            self._pause_accepting(ACCEPT_BACKOFF)
        else:
            self.protocol_errors.log(logging.ERROR, "[%d]: accept failed: %s", listener.port, error)

    async def _start(self, sock: socket.socket, port: int) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(lambda: ClientConnection(self, port), sock)
        except OSError as error:
            log.error("[%d]: could not set up connection: %s", port, error)
            sock.close()
            self._socket_closed()
            self._check_drained()

    def connection_opened(self, conn: ClientConnection) -> None:
        """Count a new connection (a retiring worker still serves it: it was accepted before)."""
        self.connections.add(conn)
        self.status.set_connections(len(self.connections))
        if not self.accepting and not self.graceful:
            conn.close_when_idle = True

    def connection_closed(self, conn: ClientConnection) -> None:
        """Forget a closed connection (a lingering one once its transport is gone)."""
        if conn in self.connections:
            self.connections.discard(conn)
            self.status.set_connections(len(self.connections))
            self._socket_closed()
        self._check_drained()

    def _socket_closed(self) -> None:
        self.open_sockets -= 1
        if self.accept_paused and self._resume_handle is None and not self._at_cap(margin=1):
            self._resume_accepting()

    def _expire(self, now: float) -> None:
        server = self.server
        for conn in list(self.connections):
            if conn.lingering_since is not None:
                if now - conn.lingering_since > LINGER:
                    conn.abort()
            elif (conn.writing_paused or conn.unsent) and now - conn.last_activity > server.read_timeout:
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
            elif conn.idle and 0 < server.keepalive_timeout < now - conn.last_activity:
                log.info("[%d]: keepalive timeout: closing connection", conn.port)
                conn.close()
        if not self.accepting:
            self._expire_retiring(now)
        self._check_drained()

    def _expire_retiring(self, now: float) -> None:
        if self.graceful and now - self.retired_at > self.server.graceful_timeout:
            self._close_idle_connections()
        if now > self.drain_deadline and self.connections:
            log.warning("closing %d connection(s): drain timeout", len(self.connections))
            for conn in list(self.connections):
                conn.abort()

    # -- requests ---------------------------------------------------------------------

    async def answer(self, conn: ClientConnection, request: PolicyRequest) -> None:
        """Run one request through the engine (within ``request_timeout``) and send the answer."""
        attributes = request.attributes
        if is_probe(attributes):  # the master's /health: this worker's loop answers, no plugin runs
            conn.send(PROBE_ANSWER)
            return
        instance = attributes.get("instance")
        vhost = self.engine.vhost_for(conn.port, attributes)
        if vhost is None:
            log.error("[%d]: no virtual host defined for port %d: closing connection", conn.port, conn.port)
            conn.close()
            return
        with request_context(vhost.name, instance):
            if request.invalid_utf8:
                log.warning("[%d]: request is not valid UTF-8; bytes kept as sent", conn.port)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("request: %s", ", ".join(f"{k}={v}" for k, v in attributes.items()))
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
                    metrics().request_failed(vhost.name, "timeout")
                    log.warning(
                        "[%d]: request timed out after request_timeout=%d s: closing connection",
                        conn.port,
                        self.server.request_timeout,
                    )
                    conn.close()
                    return
                except RequestFailed as error:
                    metrics().request_failed(vhost.name, "failed")
                    with plugin_context(error.plugin or ""):
                        log.error("error while processing request: %s: closing connection", error)
                    conn.close()
                    return
                except Exception:  # a fault in the engine must not take the other connections down
                    metrics().request_failed(vhost.name, "error")
                    log.exception("[%d]: unexpected error: closing connection", conn.port)
                    conn.close()
                    return
                finally:
                    self._end_request()
            conn.send(encode_reply(result))
            elapsed = time.monotonic() - started
            metrics().request_answered(
                vhost.name, result.last_match or "(none)", action_word(result.actions), elapsed
            )
            elapsed_ms = round(elapsed * 1000)
            log.warning(
                "%s: instance=%s, type=%s, t=%dms, plugin=%s, result=%s",
                vhost.name,
                instance or "",
                attributes.get("request", ""),
                elapsed_ms,
                result.last_match or "",
                result.as_log(),
                extra={"context_shown": True},
            )
            if "request" not in attributes:
                # The original answers a request without a type, then fails logging it and closes.
                self.protocol_errors.log(
                    logging.ERROR,
                    "[%d]: error while processing request: %s: closing connection",
                    conn.port,
                    "request without a request attribute (no type)"
                    if attributes
                    else "empty request (no attributes, no type)",
                )
                conn.close_after_answers()

    def _begin_request(self) -> None:
        self.in_flight += 1
        self._publish_state()

    def _end_request(self) -> None:
        self.in_flight -= 1
        self.status.count_request()
        self._publish_state()

    def _publish_state(self) -> None:
        """Draining once retiring; busy while every request slot is taken or accepting is paused."""
        if not self.accepting:
            state = WorkerState.DRAINING
        elif self.accept_paused or self.in_flight >= self.server.max_concurrent_requests:
            state = WorkerState.BUSY
        else:
            state = WorkerState.IDLE
        if state != self.status.state:
            self.status.set_state(state)


def retirement_count(server: ServerConfig, rng: random.Random | None = None) -> int:
    """Connections this worker accepts before it retires: ``max_requests`` less a random jitter.

    As Net::Server, ``max_requests = 0`` retires a worker after its first connection.
    The jitter (default a tenth) staggers the workers' retirements; it never adds.
    """
    if server.max_requests <= 0:
        return 1
    jitter = server.max_requests // 10 if server.max_requests_jitter is None else server.max_requests_jitter
    jitter = min(max(jitter, 0), server.max_requests - 1)
    return server.max_requests - (rng or random).randint(0, jitter)


def connection_cap(server: ServerConfig) -> int:
    """Connections one worker holds before it stops accepting (0: no cap)."""
    if server.max_connections_per_worker is not None:
        return max(server.max_connections_per_worker, 0)
    return default_connection_cap(open_file_limit())
