"""Workers die with their master: after SIGKILL of the master they finish and exit, the port is free."""

from __future__ import annotations

import os
import signal

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection, policy_request
from integration.fixtures.ports import tcp_port_open
from integration.server.daemon_helpers import children, echo_config, request, wait_for

FOUR_WORKERS = "min_servers = 4\nmin_spare_servers = 1\nmax_spare_servers = 3\nmax_servers = 6\n"


def test_killed_master_takes_its_workers_and_a_restart_binds_the_port(
    python_mtpolicyd: DaemonFactory,
) -> None:
    config = echo_config("first", settings=FOUR_WORKERS)
    daemon = python_mtpolicyd(config)
    master = daemon.pid or 0
    wait_for(lambda: len(children(master)) >= 4, 30, "four workers")
    workers = children(master)
    kept = PolicyConnection(daemon.host, daemon.port)  # an idle kept-alive connection must not hold a worker
    try:
        assert kept.request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
        os.kill(master, signal.SIGKILL)
        wait_for(
            lambda: not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in workers),
            30,
            "the workers to exit",
        )
        assert not tcp_port_open(daemon.host, daemon.port)
    finally:
        kept.close()
    port = daemon.port
    restarted = python_mtpolicyd(config.replace("{port}", str(port)) + f'port = "127.0.0.1:{port}"\n')
    wait_for(lambda: tcp_port_open(daemon.host, port) or not restarted.running(), 30, "the restarted daemon")
    assert policy_request(daemon.host, port, request("192.0.2.2")) == ["action=reject first 192.0.2.2"]


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan is reaped by init soon after it exits)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
