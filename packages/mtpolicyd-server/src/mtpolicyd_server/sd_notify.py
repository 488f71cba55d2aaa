"""systemd's notify protocol (``Type=notify``): datagrams like ``READY=1`` to ``$NOTIFY_SOCKET``.

Without ``NOTIFY_SOCKET`` every call does nothing, so the master calls it unconditionally.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping


class SystemdNotifier:
    """Sends state lines to the service manager; knows the watchdog interval it asked for."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval = self._watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._last_status = ""

    @staticmethod
    def _watchdog_interval(env: Mapping[str, str]) -> float | None:
        """Seconds between WATCHDOG=1 pings systemd expects (``WATCHDOG_USEC``), when meant for us."""
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 1e6

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return bool(self.address)

    def send(self, *lines: str) -> None:
        """One datagram of ``KEY=value`` lines; a manager that went away is ignored."""
        if not self.address:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        with contextlib.suppress(OSError):
            self._sock.sendto("\n".join(lines).encode(), self.address)

    def ready(self, status: str) -> None:
        """Started (or reloaded): ``READY=1`` with a status line."""
        self._last_status = status
        self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        """A reload begins (``RELOADING=1`` with the monotonic time systemd 253 asks for)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading configuration")

    def stopping(self) -> None:
        """Shutting down."""
        self.send("STOPPING=1", "STATUS=shutting down")

    def status(self, status: str) -> None:
        """A new status line (sent only when it changed)."""
        if status != self._last_status:
            self._last_status = status
            self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        """Prove the master's loop is alive (``WATCHDOG=1``)."""
        if self.watchdog_interval is not None:
            self.send("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket (a forked worker does, it never notifies)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
