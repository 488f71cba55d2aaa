"""Out of file descriptors is a state, not a spin: other clients are answered, the log stays small."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.fixtures.daemons import MtpolicydDaemon, python_mtpolicyd_argv
from integration.fixtures.failures import service_errors_fail_the_test
from integration.fixtures.policy_client import policy_request
from integration.server.daemon_helpers import echo_config, request, wait_for

LIMIT = 256
CONNECTIONS = 2000
SETTINGS = "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 3\nmax_servers = 25\nlog_level = 2\n"


@pytest.fixture
def limited_daemon(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MtpolicydDaemon]:
    """Our daemon under ``ulimit -n 256`` (prlimit), with extra settings from indirect parametrization."""
    argv = ["prlimit", f"--nofile={LIMIT}:{LIMIT}", "--", *python_mtpolicyd_argv()]
    config = echo_config("first", settings=SETTINGS + request.param)
    daemon = MtpolicydDaemon(argv, "limited", tmp_path / "limited", config, {}, None)
    with service_errors_fail_the_test():
        daemon.start()
    yield daemon
    daemon.stop()


@pytest.mark.parametrize(
    "limited_daemon",
    ["", "max_connections_per_worker = 0\n"],  # the cap from the limit; no cap: EMFILE and back-off
    ids=["connection-cap", "emfile-backoff"],
    indirect=True,
)
def test_2000_connections_under_ulimit_256(limited_daemon: MtpolicydDaemon) -> None:
    daemon = limited_daemon
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, CONNECTIONS + 500)), hard))
    held: list[socket.socket] = []
    try:
        for _ in range(CONNECTIONS):
            held.append(socket.create_connection((daemon.host, daemon.port), timeout=30))
        wait_for(
            lambda: _answered(daemon), 120, "an answer to another client while 2000 connections are held"
        )
        lines_before = len(daemon.log_text().splitlines())
        time.sleep(5)
        assert _answered(daemon)
        grown = len(daemon.log_text().splitlines()) - lines_before
        assert grown <= 5 * 3 + 1  # the one request line, and at most a few lines a second
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    log = daemon.log_text()
    assert log.count("Too many open files") < 50
    assert "open file limit 256" in log


def _answered(daemon: MtpolicydDaemon) -> bool:
    try:
        return policy_request(daemon.host, daemon.port, request("192.0.2.7"), timeout=20) == [
            "action=reject first 192.0.2.7"
        ]
    except OSError:
        return False
