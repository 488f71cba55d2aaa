"""Configs and process inspection shared by the server integration tests."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

#: a vhost whose answer echoes the request's client_address (so crossed replies show)
ECHO_VHOST = """<VirtualHost {port}>
  name = "{name}"
  <Plugin echo>
    module = "ScoreAction"
    threshold = 0
    action = "reject {name} %IP%"
  </Plugin>
</VirtualHost>
"""

#: one worker normally; room for a few more
ONE_WORKER = "min_servers = 1\nmin_spare_servers = 1\nmax_spare_servers = 2\nmax_servers = 3\n"


def echo_config(*vhosts: str, settings: str = "") -> str:
    """Globals ``settings`` and one echo vhost per name, on ``{port}``, ``{port2}``, …"""
    ports = ["{port}"] + [f"{{port{number}}}" for number in range(2, len(vhosts) + 1)]
    return settings + "".join(
        ECHO_VHOST.replace("{port}", port).replace("{name}", name)
        for port, name in zip(ports, vhosts, strict=True)
    )


def request(address: str, instance: str = "1") -> dict[str, str]:
    """A Postfix-like RCPT request from ``address``."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "instance": instance,
        "client_address": address,
        "sender": "a@example.org",
        "recipient": "b@example.net",
    }


def children(pid: int) -> set[int]:
    """PIDs of the running (not zombie) children of ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        found = re.fullmatch(r"socket:\[(\d+)\]", target)
        if found:
            inodes.add(int(found[1]))
    return inodes


def server_side_inode(client: socket.socket) -> int:
    """The inode of the daemon's socket for our connection ``client`` (from /proc/net/tcp)."""
    client_port = client.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == client_port:
            return int(fields[9])
    raise LookupError(f"no server socket for client port {client_port}")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def worker_pids_in_log(log: str) -> list[int]:
    """PIDs of the processes that logged a request line, in order."""
    return [int(pid) for pid in re.findall(r"mtpolicyd\[(\d+)\]: \w+: instance=", log)]
