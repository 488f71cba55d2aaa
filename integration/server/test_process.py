"""Process life: request_timeout, daemon mode with PID file, dropping to user and group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from integration.fixtures.daemons import python_mtpolicyd_argv
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import policy_request
from integration.fixtures.ports import free_port
from integration.server.daemon_helpers import ONE_WORKER, echo_config, request, wait_for

STUCK_VHOST = """<VirtualHost {port2}>
  name = "stuck"
  <Plugin forward>
    module = "Proxy"
    host = "127.0.0.1:{stuck}"
  </Plugin>
</VirtualHost>
"""


def test_request_timeout_closes_the_connection_and_the_worker_serves_on(
    python_mtpolicyd: DaemonFactory,
) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        config = echo_config("first", settings=ONE_WORKER + "request_timeout = 2\n") + STUCK_VHOST
        daemon = python_mtpolicyd(config, stuck=silent.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            daemon.request(request("192.0.2.1"), port=daemon.ports[1])
        assert time.monotonic() - started < 15
        daemon.wait_for_log(
            "request timed out after request_timeout=2 s: closing connection (vhost=stuck, instance=1)"
        )
        assert daemon.request(request("192.0.2.1"), port=daemon.ports[0]) == ["action=reject first 192.0.2.1"]


def test_daemon_mode_detaches_writes_the_pid_file_and_stops_on_term(tmp_path: Path) -> None:
    port = free_port()
    pid_file, log_file = tmp_path / "mtpolicyd.pid", tmp_path / "mtpolicyd.log"
    settings = f'pid_file = "{pid_file}"\nlog_file = "{log_file}"\nport = "127.0.0.1:{port}"\n'
    config = tmp_path / "mtpolicyd.conf"
    config.write_text(echo_config("first", settings=settings).replace("{port}", str(port)))
    started = subprocess.run([*python_mtpolicyd_argv(), "-c", str(config)], timeout=30, check=False)
    assert started.returncode == 0
    wait_for(pid_file.exists, 15, "the PID file")
    pid = int(pid_file.read_text())
    try:
        wait_for(lambda: _answers(port), 15, "an answer")
        assert os.getsid(pid) not in (os.getsid(0), pid)  # a new session it does not lead: no terminal
        assert "master started" in log_file.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "the daemon to exit")
    assert not pid_file.exists()
    assert "master exiting" in log_file.read_text()


def _answers(port: int) -> bool:
    try:
        return policy_request("127.0.0.1", port, request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
    except OSError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_workers_run_as_the_configured_user_and_group(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings='user = "nobody"\ngroup = "nogroup"\n'))
    assert daemon.request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
    status = Path(f"/proc/{daemon.pid}/status").read_text()
    nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True, check=True).stdout.strip()
    assert f"\nUid:\t{nobody}\t" in status
