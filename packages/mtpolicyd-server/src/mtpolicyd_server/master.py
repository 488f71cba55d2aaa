"""The pre-forking master: spawns, reaps and replaces workers, keeps spares, reloads and stops.

Signal handlers only queue the signal; the main loop dispatches it to
``handle_<name>``. Workers report heartbeat and state through a shared page
(:mod:`mtpolicyd_server.scoreboard`), which is how spares are counted and
stuck workers found (no heartbeat for ``heartbeat_timeout``). A retiring
worker rings the master's wake-up socket so its replacement starts at once;
workers watch a lifeline pipe to stop when the master dies. systemd is told
of start, reloads and stops (:mod:`mtpolicyd_server.sd_notify`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.engine import PolicyEngine

from mtpolicyd_server.lifeline import Lifeline
from mtpolicyd_server.listeners import Listener
from mtpolicyd_server.logging_setup import NOTICE, python_level, reopen_log_files
from mtpolicyd_server.proctitle import set_process_title
from mtpolicyd_server.scoreboard import WorkerState, WorkerStatus
from mtpolicyd_server.sd_notify import SystemdNotifier
from mtpolicyd_server.worker import Worker

if TYPE_CHECKING:
    from mtpolicyd_server.endpoints import MasterEndpoints

log = logging.getLogger("mtpolicyd.master")

#: signals the master handles, by the name of their handler
SIGNALS: dict[int, str] = {
    signal.SIGHUP: "hup",
    signal.SIGTERM: "term",
    signal.SIGINT: "int",
    signal.SIGQUIT: "quit",
    signal.SIGCHLD: "chld",
}
#: seconds between two checks of heartbeats and spares
TICK = 1.0
#: most queued signals (more of the same kind add nothing)
QUEUE_LIMIT = 5

EngineLoader = Callable[[], PolicyEngine]


@dataclass(eq=False)
class WorkerRecord:
    """What the master knows of a worker: its status page, config generation, retirement."""

    pid: int
    status: WorkerStatus
    generation: int
    retiring: bool = False
    killed: bool = False

    @property
    def state(self) -> WorkerState:
        """The state the worker last published."""
        return self.status.read()[1]


class Master:
    """Runs the workers of one set of listeners for the whole life of the daemon."""

    def __init__(
        self,
        engine: PolicyEngine,
        listeners: list[Listener],
        load_engine: EngineLoader,
        log_level_override: int | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self.engine = engine
        self.listeners = listeners
        self.load_engine = load_engine
        self.log_level_override = log_level_override
        self.notifier = notifier or SystemdNotifier({})
        self.workers: dict[int, WorkerRecord] = {}
        self.generation = 0
        self.signal_queue: list[int] = []
        self.stopping = False
        self.selector = selectors.DefaultSelector()
        self._wakeup_receiver, self._wakeup_sender = socket.socketpair()
        self.lifeline = Lifeline()
        #: /metrics and /health when configured (docs/metrics.md)
        self.endpoints: MasterEndpoints | None = None

    @property
    def server(self) -> ServerConfig:
        """The server settings of the running configuration."""
        return self.engine.config.server

    # -- main loop --------------------------------------------------------------------

    def run(self) -> int:
        """Spawn the workers and supervise them until TERM; the exit status."""
        self._install_signals()
        set_process_title(f"{self.server.program_name} (master)")
        addresses = ", ".join(str(listener.address) for listener in self.listeners)
        log.log(NOTICE, "master started, listening on %s", addresses)
        self.start_endpoints()  # before the first fork: workers inherit the metric objects
        self.manage_workers()
        self.notifier.ready(self.status_line())
        tick = TICK
        if self.notifier.watchdog_interval is not None:
            tick = min(TICK, self.notifier.watchdog_interval / 2)
        while not self.stopping:
            if self.signal_queue:
                signum = self.signal_queue.pop(0)
                getattr(self, f"handle_{SIGNALS[signum]}")()
                continue
            self._sleep(tick)
            if self.signal_queue:
                continue
            self.reap_workers()  # also when a SIGCHLD was not queued
            self.murder_stuck_workers()
            self.manage_workers()
            self.notifier.status(self.status_line())
            self.notifier.watchdog()  # the master's own loop is alive and has checked its workers
        return 0

    def status_line(self) -> str:
        """What systemctl status shows: workers by state, requests served by the live ones."""
        states = [record.status.read() for record in self.workers.values()]
        idle = sum(1 for _, state, _ in states if state == WorkerState.IDLE)
        draining = sum(1 for _, state, _ in states if state == WorkerState.DRAINING)
        served = sum(requests for _, _, requests in states)
        return f"{len(states)} workers ({idle} idle, {draining} retiring), {served} requests by these"

    def start_endpoints(self) -> None:
        """Serve /metrics and /health if configured (imported only then: workers stay small)."""
        if not (self.server.metrics_address or self.server.health_address):
            return
        from mtpolicyd_server.endpoints import MasterEndpoints, probe_address  # noqa: PLC0415 - only when set

        target = probe_address(self.listeners[0].sock.getsockname())
        self.endpoints = MasterEndpoints(self.server, target, self.worker_states)
        self.endpoints.start()

    def worker_states(self) -> list[str]:
        """The state of every worker, as metrics name it (read from the HTTP thread)."""
        states = []
        for record in list(self.workers.values()):
            with contextlib.suppress(ValueError):  # reaped meanwhile: its status page is closed
                states.append(record.state.name.lower())
        return states

    def _install_signals(self) -> None:
        for sock in (self._wakeup_receiver, self._wakeup_sender):
            sock.setblocking(False)
        self.selector.register(self._wakeup_receiver, selectors.EVENT_READ)
        signal.set_wakeup_fd(self._wakeup_sender.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            signal.signal(signum, self._queue_signal)

    def _queue_signal(self, signum: int, frame: FrameType | None) -> None:
        if len(self.signal_queue) < QUEUE_LIMIT:
            self.signal_queue.append(signum)

    def _sleep(self, seconds: float) -> None:
        """Wait for a signal (its wakeup byte) or ``seconds``."""
        if self.selector.select(seconds):
            with contextlib.suppress(BlockingIOError):
                while self._wakeup_receiver.recv(4096):
                    pass

    # -- signals ----------------------------------------------------------------------

    def handle_chld(self) -> None:
        """Reap exited workers; replacements start on the next tick (no fork loop if workers fail early)."""
        self.reap_workers()

    def handle_hup(self) -> None:
        """Reload the config: new engine and workers, same listeners; a bad config keeps the old."""
        reopen_log_files()  # logrotate's postrotate sends HUP after moving log_file
        log.log(NOTICE, "received HUP: reloading configuration")
        self.notifier.reloading()
        try:
            engine = self.load_engine()
        except Exception as error:  # any fault of the new config keeps the running one
            log.error("reloading configuration failed, keeping the running one: %s", error)
            if self.endpoints is not None:
                self.endpoints.config_reloaded(False)
            self.notifier.ready(self.status_line())
            return
        if set(engine.config.server.ports) != set(self.server.ports):
            log.warning("port changed in the configuration: listeners are kept until a restart")
        new = engine.config.server
        if (new.metrics_address, new.health_address) != (
            self.server.metrics_address,
            self.server.health_address,
        ):
            log.warning("metrics_address or health_address changed: the endpoints are kept until a restart")
        old_engine, self.engine = self.engine, engine
        self.generation += 1
        if self.log_level_override is None:
            logging.getLogger().setLevel(python_level(self.server.log_level))
        self.manage_workers()
        for record in list(self.workers.values()):
            if record.generation < self.generation:
                self.retire_worker(record)
        asyncio.run(old_engine.aclose())
        if self.endpoints is not None:
            self.endpoints.config_reloaded(True)
        log.log(NOTICE, "configuration reloaded")
        self.notifier.ready(self.status_line())

    def handle_term(self) -> None:
        """Stop: workers finish the requests they hold and exit; then the master exits 0."""
        log.log(NOTICE, "received TERM: shutting down")
        self.stop(graceful=True)

    def handle_int(self) -> None:
        """Ctrl-C in the foreground: like TERM."""
        log.log(NOTICE, "received INT: shutting down")
        self.stop(graceful=True)

    def handle_quit(self) -> None:
        """Stop at once: workers are killed."""
        log.log(NOTICE, "received QUIT: exiting at once")
        self.stop(graceful=False)

    # -- workers ----------------------------------------------------------------------

    def manage_workers(self) -> None:
        """Keep ``min_servers`` workers and between min and max spare idle ones, at most ``max_servers``."""
        if self.stopping:
            return
        server = self.server
        active = [
            record
            for record in self.workers.values()
            if record.generation == self.generation
            and not record.retiring
            and record.state != WorkerState.DRAINING
        ]
        idle = [record for record in active if record.state == WorkerState.IDLE]
        # at least one worker accepts, even where the original's min_servers = min_spare_servers = 0 has none
        wanted = max(server.min_servers, 1)
        missing = max(wanted - len(active), server.min_spare_servers - len(idle), 1 - len(idle))
        for _ in range(min(missing, max(server.max_servers, 1) - len(active))):
            self.spawn_worker()
        surplus = min(len(idle) - server.max_spare_servers, len(active) - server.min_servers)
        # Only workers without clients go: retiring one would cut its kept-alive connections.
        unused = [record for record in idle if record.status.open_connections() == 0]
        for record in unused[: max(surplus, 0)]:
            self.retire_worker(record)

    def spawn_worker(self) -> None:
        """Fork a worker of the current configuration."""
        status = WorkerStatus()
        sys.stdout.flush()
        sys.stderr.flush()
        # blocked until the worker has its own handlers: a TERM in between must not be lost
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(self._worker_main(status))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        self.workers[pid] = WorkerRecord(pid, status, self.generation)
        log.info("worker %d started", pid)

    def _worker_main(self, status: WorkerStatus) -> int:
        """The child's side of the fork: never returns into the master's loop."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            self.selector.close()
            self._wakeup_receiver.close()
            self.notifier.close()
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            self.lifeline.in_worker()
            if self.endpoints is not None:
                self.endpoints.in_worker()
            set_process_title(f"{self.server.program_name} (worker)")
            self.engine.after_fork()
            worker = Worker(self.engine, self.listeners, status, self.lifeline, self._ring_master)
            code = worker.run()
        except BaseException:  # whatever happens, the child must not return into the master
            log.exception("worker failed")
        finally:
            logging.shutdown()
        return code

    def _ring_master(self) -> None:
        """In a worker: wake the master's loop (a retiring worker wants its replacement now)."""
        with contextlib.suppress(OSError):
            self._wakeup_sender.send(b"\0", socket.MSG_DONTWAIT)

    def retire_worker(self, record: WorkerRecord) -> None:
        """Ask a worker to serve the connections it holds to their end and exit (SIGHUP, as
        Net::Server's children take it)."""
        record.retiring = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGHUP)

    def reap_workers(self) -> None:
        """Collect every exited worker and log how it ended."""
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # no children left: every record is stale
                pid, wait_status = next(iter(self.workers), 0), 0
            if pid == 0:
                return
            record = self.workers.pop(pid, None)
            if record is None:
                continue
            if self.endpoints is not None:
                self.endpoints.worker_reaped(pid)
            requests = record.status.read()[2]
            record.status.close()
            if os.WIFSIGNALED(wait_status):
                log.error(
                    "worker %d killed by signal %d after %d requests", pid, os.WTERMSIG(wait_status), requests
                )
            elif os.waitstatus_to_exitcode(wait_status) != 0:
                log.error(
                    "worker %d exited with status %d after %d requests",
                    pid,
                    os.waitstatus_to_exitcode(wait_status),
                    requests,
                )
            else:
                log.info("worker %d exited after %d requests", pid, requests)

    def murder_stuck_workers(self) -> None:
        """SIGKILL workers whose loop stopped beating (stopped, or blocked by a plugin).

        The loop beats once a second from a timer, however busy its requests are, so
        ``heartbeat_timeout`` (10 s) tells a stuck loop from a slow request.
        """
        limit = self.server.heartbeat_timeout
        if not limit:
            return
        for record in list(self.workers.values()):
            age = record.status.silent_for()
            if age > limit and not record.killed:
                log.error(
                    "worker %d sent no heartbeat for %.0f s (heartbeat_timeout=%d): killing it",
                    record.pid,
                    age,
                    limit,
                )
                record.killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)

    def stop(self, graceful: bool) -> None:
        """Stop every worker (TERM and wait, or KILL) and leave the main loop."""
        self.stopping = True
        self.notifier.stopping()
        for listener in self.listeners:
            listener.close()
        sig = signal.SIGTERM if graceful else signal.SIGKILL
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + self.server.read_timeout + self.server.request_timeout + 5
        while self.workers and time.monotonic() < deadline:
            self.reap_workers()
            if self.workers:
                self._sleep(0.2)
        for pid in list(self.workers):
            log.error("worker %d did not stop in time: killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.workers:
            self.reap_workers()
            if self.workers:
                time.sleep(0.05)
        asyncio.run(self.engine.aclose())
        self.lifeline.close()
        if self.endpoints is not None:
            self.endpoints.close()
        log.log(NOTICE, "master exiting")
