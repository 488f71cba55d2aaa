"""A stopped worker is found by its heartbeat (heartbeat_timeout) and replaced; its clients reconnect."""

from __future__ import annotations

import os
import signal
import time

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.server.daemon_helpers import (
    children,
    echo_config,
    request,
    server_side_inode,
    socket_inodes,
    wait_for,
)

SETTINGS = (
    "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 2\nmax_servers = 4\nheartbeat_timeout = 3\n"
)


def test_sigstopped_worker_is_killed_and_its_clients_reach_a_live_one(
    python_mtpolicyd: DaemonFactory,
) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings=SETTINGS + "log_level = 3\n"))
    master = daemon.pid or 0
    wait_for(lambda: len(children(master)) >= 2, 30, "two workers")
    with PolicyConnection(daemon.host, daemon.port, timeout=60) as conn:
        conn.request(request("192.0.2.1"))
        victim = next(pid for pid in children(master) if server_side_inode(conn.sock) in socket_inodes(pid))
        os.kill(victim, signal.SIGSTOP)
        daemon.wait_for_log(f"worker {victim} sent no heartbeat for", timeout=60)
        daemon.wait_for_log(f"worker {victim} killed by signal 9", timeout=30)
    # the client reconnects, as Postfix does, and a live worker answers
    started = time.monotonic()
    wait_for(lambda: _answered(daemon.host, daemon.port), 60, "an answer from a live worker")
    assert time.monotonic() - started < 60
    assert victim not in children(master)


def _answered(host: str, port: int) -> bool:
    try:
        with PolicyConnection(host, port, timeout=10) as conn:
            return conn.request(request("192.0.2.2")) == ["action=reject first 192.0.2.2"]
    except OSError:
        return False
