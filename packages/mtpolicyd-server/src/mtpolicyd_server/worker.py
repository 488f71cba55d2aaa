"""A worker process: one event loop multiplexing many policy connections, answering one request at a time.

Idle keep-alive connections only cost a selector entry, so they never pin a
worker. The plugin chain runs synchronously on the loop under a SIGALRM
deadline of ``request_timeout`` (see docs/decisions/0002-worker-design.md).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import signal
import socket
import time
from dataclasses import dataclass, field
from types import FrameType

from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.engine import PolicyEngine, RequestFailed

from mtpolicyd_server.listeners import Listener
from mtpolicyd_server.protocol import Limits, PolicyRequest, ProtocolError, RequestParser, encode_reply
from mtpolicyd_server.scoreboard import WorkerState, WorkerStatus

log = logging.getLogger("mtpolicyd.worker")

RECEIVE_SIZE = 65536
#: longest the loop sleeps, so heartbeats and timeouts are checked at least this often
TICK = 1.0


class RequestTimeout(BaseException):
    """``request_timeout`` ran out while the chain ran (a BaseException, so plugins cannot swallow it)."""


@dataclass(eq=False)
class ClientConnection:
    """One accepted connection: its socket, vhost port, parser and unsent reply bytes."""

    sock: socket.socket
    port: int
    parser: RequestParser
    last_activity: float
    outgoing: bytearray = field(default_factory=bytearray)
    served: int = 0
    request_started: float | None = None
    close_when_sent: bool = False
    closed: bool = False

    @property
    def idle(self) -> bool:
        """Nothing half-read and nothing left to send: safe to close."""
        return not self.parser.pending and not self.outgoing


class Worker:
    """Accepts on the shared listeners and serves its connections until told to stop or retired."""

    def __init__(self, engine: PolicyEngine, listeners: list[Listener], status: WorkerStatus) -> None:
        self.engine = engine
        self.server: ServerConfig = engine.config.server
        self.listeners = listeners
        self.status = status
        self.limits = Limits(self.server.max_line_length, self.server.max_request_size,
                             self.server.max_request_attributes)
        self.selector = selectors.DefaultSelector()
        self.connections: set[ClientConnection] = set()
        self.accepting = True
        #: connections accepted so far: Net::Server's ``max_requests`` counts connections
        self.accepted = 0
        self.stop_requested = False
        self.drain_deadline = 0.0
        self.in_request = False

    # -- life -------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until drained; the process exit status."""
        wakeup = self._install_signals()
        for listener in self.listeners:
            self.selector.register(listener.sock, selectors.EVENT_READ, listener)
        log.debug("worker started")
        while True:
            self.status.beat()
            if self.stop_requested and self.accepting:
                self.retire("shutting down")
            if not self.accepting and not self.connections:
                break
            if not self.accepting and time.monotonic() > self.drain_deadline:
                self._close_all("drain timeout")
                break
            for key, events in self.selector.select(TICK):
                try:
                    self._dispatch(key, events, wakeup)
                except (Exception, RequestTimeout):  # a bug here must cost one connection, not the worker
                    log.exception("unexpected error: closing the connection")
                    if isinstance(key.data, ClientConnection):
                        self._close(key.data)
            self._expire(time.monotonic())
        log.debug("worker exiting after %d requests", self.status.read()[2])
        return 0

    def _install_signals(self) -> socket.socket:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stop_requested = True

        def alarm(signum: int, frame: FrameType | None) -> None:
            if self.in_request:
                raise RequestTimeout

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        signal.signal(signal.SIGALRM, alarm)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        receiver, sender = socket.socketpair()
        receiver.setblocking(False)
        sender.setblocking(False)
        signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
        self.selector.register(receiver, selectors.EVENT_READ, sender)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the master forked us with signals blocked
        return receiver

    def retire(self, why: str) -> None:
        """Stop accepting, close idle connections, finish the half-read ones, then exit."""
        if not self.accepting:
            return
        log.info("worker retiring (%s)", why)
        self.accepting = False
        self.status.set_state(WorkerState.DRAINING)
        self.drain_deadline = time.monotonic() + self.server.read_timeout + self.server.request_timeout
        for listener in self.listeners:
            self.selector.unregister(listener.sock)
            listener.close()
        for conn in list(self.connections):
            if conn.idle:
                self._read(conn)  # a request already sent is still answered
            if conn.idle and not conn.closed:
                self._close(conn)

    # -- events -----------------------------------------------------------------------

    def _dispatch(self, key: selectors.SelectorKey, events: int, wakeup: socket.socket) -> None:
        if isinstance(key.data, Listener):
            if self.accepting:
                self._accept(key.data)
        elif isinstance(key.data, ClientConnection):
            conn = key.data
            if events & selectors.EVENT_WRITE and not conn.closed:
                self._send(conn)
            if events & selectors.EVENT_READ and not conn.closed:
                self._read(conn)
        else:
            with contextlib.suppress(BlockingIOError):
                wakeup.recv(4096)

    def _accept(self, listener: Listener) -> None:
        try:
            sock, peer = listener.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker was faster
        except OSError as error:
            log.error("[%d]: accept failed: %s", listener.port, error)
            return
        sock.setblocking(False)
        conn = ClientConnection(sock, listener.port, RequestParser(self.limits), time.monotonic())
        self.connections.add(conn)
        self.accepted += 1
        self.status.set_connections(len(self.connections))
        self.selector.register(sock, selectors.EVENT_READ, conn)
        log.debug("accepted connection on port %d from %s", listener.port, peer)

    def _read(self, conn: ClientConnection) -> None:
        try:
            data = conn.sock.recv(RECEIVE_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            log.error("[%d]: error while reading request: %s", conn.port, error)
            self._close(conn)
            return
        if not data:
            if conn.parser.pending:
                log.warning("[%d]: connection closed by peer in the middle of a request", conn.port)
            else:
                log.info("[%d]: connection closed by peer", conn.port)
            self._close(conn)
            return
        try:
            requests = conn.parser.feed(data)
        except ProtocolError as error:
            log.error("[%d]: error while reading request: %s: closing connection", conn.port, error)
            self._close(conn)
            return
        now = time.monotonic()
        if requests or not conn.parser.pending:
            conn.request_started = now if conn.parser.pending else None
        elif conn.request_started is None:
            conn.request_started = now
        for request in requests:
            if conn.closed or conn.close_when_sent:
                break
            self._answer(conn, request)

    def _answer(self, conn: ClientConnection, request: PolicyRequest) -> None:
        attributes = request.attributes
        if request.invalid_utf8:
            log.warning("[%d]: instance=%s: request is not valid UTF-8; bytes kept as sent",
                        conn.port, attributes.get("instance"))
        vhost = self.engine.vhost_for(conn.port, attributes)
        if vhost is None:
            log.error("[%d]: no virtual host defined for port %d: closing connection", conn.port, conn.port)
            self._close(conn)
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: request: %s", vhost.name, ", ".join(f"{k}={v}" for k, v in attributes.items()))
        started = time.monotonic()
        self.status.set_state(WorkerState.BUSY)
        self.in_request = True
        signal.setitimer(signal.ITIMER_REAL, self.server.request_timeout)
        try:
            result = self.engine.process(vhost, attributes)
        except RequestTimeout:
            log.warning("[%d]: %s: instance=%s: request timed out after %d s: closing connection",
                        conn.port, vhost.name, attributes.get("instance"), self.server.request_timeout)
            self._close(conn)
            self._reconnect_backends()
            return
        except RequestFailed as error:
            log.error("error while processing request: %s: closing connection", error)
            self._close(conn)
            return
        except Exception:  # a fault in the engine must not take the other connections down
            log.exception("%s: instance=%s: unexpected error: closing connection",
                          vhost.name, attributes.get("instance"))
            self._close(conn)
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.in_request = False
            self.status.set_state(WorkerState.IDLE if self.accepting else WorkerState.DRAINING)
            self.status.count_request()
        conn.outgoing += encode_reply(result)
        conn.served += 1
        if (self.server.max_keepalive and conn.served >= self.server.max_keepalive) or not self.accepting:
            conn.close_when_sent = True
        self._send(conn)
        elapsed_ms = round((time.monotonic() - started) * 1000)
        log.warning("%s: instance=%s, type=%s, t=%dms, plugin=%s, result=%s", vhost.name,
                    attributes.get("instance", ""), attributes.get("request", ""), elapsed_ms,
                    result.last_match or "", result.as_log())

    def _send(self, conn: ClientConnection) -> None:
        try:
            sent = conn.sock.send(conn.outgoing)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as error:
            log.info("[%d]: could not send reply: %s", conn.port, error)
            self._close(conn)
            return
        del conn.outgoing[:sent]
        if sent:
            conn.last_activity = time.monotonic()
        if conn.outgoing:  # read no more requests until the client takes its answers
            self.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
        if conn.close_when_sent:
            log.info("[%d]: closing connection", conn.port)
            self._close(conn)

    def _expire(self, now: float) -> None:
        for conn in list(self.connections):
            if conn.outgoing and now - conn.last_activity > self.server.read_timeout:
                log.error("[%d]: client took no answer for read_timeout=%d s: closing connection",
                          conn.port, self.server.read_timeout)
                self._close(conn)
            elif conn.request_started is not None and now - conn.request_started > self.server.read_timeout:
                log.error("[%d]: request not complete after read_timeout=%d s: closing connection",
                          conn.port, self.server.read_timeout)
                self._close(conn)
            elif conn.idle and now - conn.last_activity > self.server.keepalive_timeout:
                log.info("[%d]: keepalive timeout: closing connection", conn.port)
                self._close(conn)

    def _close(self, conn: ClientConnection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.connections.discard(conn)
        self.status.set_connections(len(self.connections))
        if self.server.max_requests and self.accepted >= self.server.max_requests:
            self.retire(f"served max_requests={self.server.max_requests}")
        self.selector.unregister(conn.sock)
        conn.sock.close()

    def _close_all(self, why: str) -> None:
        if self.connections:
            log.warning("closing %d connection(s): %s", len(self.connections), why)
        for conn in list(self.connections):
            self._close(conn)

    def _reconnect_backends(self) -> None:
        """After an interrupted request, a back-end client may be mid-reply: open fresh ones."""
        try:
            self.engine.after_fork()
        except Exception as error:  # logged; the next request reports the back-end itself
            log.error("could not reconnect back-ends after a timeout: %s", error)
