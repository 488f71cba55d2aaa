"""What admins do to a running daemon: logrotate and HUP, a relative -c path, ps, systemd's notify."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from integration.fixtures.daemons import python_mtpolicyd_argv
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import policy_request
from integration.fixtures.ports import free_port, tcp_port_open
from integration.server.daemon_helpers import children, echo_config, request, wait_for


def test_log_file_moved_by_logrotate_is_reopened_on_hup(
    python_mtpolicyd: DaemonFactory, tmp_path: Path
) -> None:
    log_file = tmp_path / "mtpolicyd.log"
    daemon = python_mtpolicyd(echo_config("first", settings=f'log_file = "{log_file}"\n'))
    assert daemon.request(request("192.0.2.1", "before")) == ["action=reject first 192.0.2.1"]
    wait_for(lambda: "instance=before" in log_file.read_text(), 10, "the first request line")
    rotated = tmp_path / "mtpolicyd.log.1"
    log_file.rename(rotated)
    os.kill(daemon.pid or 0, signal.SIGHUP)  # logrotate's postrotate
    wait_for(
        lambda: log_file.exists() and "configuration reloaded" in log_file.read_text(), 20, "a new log file"
    )
    assert daemon.request(request("192.0.2.1", "after")) == ["action=reject first 192.0.2.1"]
    wait_for(lambda: "instance=after" in log_file.read_text(), 10, "the request line in the new file")
    assert "instance=after" not in rotated.read_text()


def test_relative_config_path_works_after_daemonizing_and_on_hup(tmp_path: Path) -> None:
    port = free_port()
    pid_file, log_file = tmp_path / "mtpolicyd.pid", tmp_path / "mtpolicyd.log"
    settings = f'pid_file = "{pid_file}"\nlog_file = "{log_file}"\nport = "127.0.0.1:{port}"\n'
    if os.geteuid() == 0:
        settings += "user = root\ngroup = root\n"
    (tmp_path / "relative.conf").write_text(
        echo_config("first", settings=settings).replace("{port}", str(port))
    )
    started = subprocess.run(
        [*python_mtpolicyd_argv(), "-c", "relative.conf"], cwd=tmp_path, timeout=30, check=False
    )
    assert started.returncode == 0
    wait_for(pid_file.exists, 15, "the PID file")
    pid = int(pid_file.read_text())
    try:
        wait_for(lambda: _answer(port) == ["action=reject first 192.0.2.1"], 15, "an answer")
        config = tmp_path / "relative.conf"
        config.write_text(config.read_text().replace("reject first", "reject reloaded"))
        os.kill(pid, signal.SIGHUP)  # the daemon's working directory is / now
        wait_for(lambda: _answer(port) == ["action=reject reloaded 192.0.2.1"], 20, "the reloaded answer")
        assert "reloading configuration failed" not in log_file.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "the daemon to exit")


def _answer(port: int) -> list[str]:
    try:
        return policy_request("127.0.0.1", port, request("192.0.2.1"))
    except OSError:
        return []


def test_process_titles_name_master_and_workers(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    master = daemon.pid or 0
    wait_for(lambda: len(children(master)) >= 1, 20, "a worker")
    assert _title(master) == "mtpolicyd (master)"
    wait_for(
        lambda: all(_title(pid) == "mtpolicyd (worker)" for pid in children(master)), 20, "worker titles"
    )


def _title(pid: int) -> str:
    return subprocess.run(
        ["ps", "-o", "args=", "-p", str(pid)], check=False, capture_output=True, text=True
    ).stdout.strip()


def test_systemd_is_notified_of_ready_reload_watchdog_and_stop(
    python_mtpolicyd: DaemonFactory, tmp_path: Path
) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(address)
        manager.settimeout(30)
        env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"}
        daemon = python_mtpolicyd(echo_config("first"), env=env)
        messages = [manager.recv(4096).decode()]
        assert messages[0].startswith("READY=1\nSTATUS=")
        assert tcp_port_open(daemon.host, daemon.port)  # ready means listening
        os.kill(daemon.pid or 0, signal.SIGHUP)
        while not messages[-1].startswith("READY=1") or len(messages) == 1:
            messages.append(manager.recv(4096).decode())
        assert any(message.startswith("RELOADING=1\nMONOTONIC_USEC=") for message in messages[1:])
        while "WATCHDOG=1" not in messages:
            messages.append(manager.recv(4096).decode())
        assert "workers (" in messages[0]  # READY=1 comes with a STATUS= line
        daemon.stop()
        while not messages[-1].startswith("STOPPING=1"):
            messages.append(manager.recv(4096).decode())
