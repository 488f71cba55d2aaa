"""systemd's notify protocol: datagrams on NOTIFY_SOCKET, watchdog interval from the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from mtpolicyd_server.sd_notify import SystemdNotifier


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A fake service manager: a datagram socket and its path."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(10)
        yield sock, path


def test_ready_reloading_status_and_stopping_reach_the_manager(manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    notifier.ready("4 workers")
    notifier.reloading()
    notifier.status("5 workers")
    notifier.status("5 workers")  # unchanged: not sent again
    notifier.stopping()
    messages = [sock.recv(4096).decode() for _ in range(4)]
    assert messages[0] == "READY=1\nSTATUS=4 workers"
    assert messages[1].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert messages[2] == "STATUS=5 workers"
    assert messages[3].startswith("STOPPING=1")


def test_abstract_socket_address() -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "@/org/test"}).address == "\0/org/test"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    notifier.ready("x")  # no error, no socket


def test_watchdog_interval_only_when_meant_for_this_process() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "3000000"}).watchdog_interval == 3.0
    assert SystemdNotifier({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    mine = {"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(mine).watchdog_interval == 3.0
    assert SystemdNotifier({"WATCHDOG_USEC": "0"}).watchdog_interval is None
