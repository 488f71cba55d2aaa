"""Free local ports and waiting for something to become ready."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

LOCALHOST = "127.0.0.1"


def free_port(kind: int = socket.SOCK_STREAM, host: str = LOCALHOST) -> int:
    """A port nobody listens on right now (TCP by default, UDP with ``socket.SOCK_DGRAM``)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def tcp_port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], str | None]) -> None:
    """Poll ``check`` until it holds; RuntimeError early when ``alive`` reports the process died,
    TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        death = alive()
        if death is not None:
            raise RuntimeError(f"{what}: {death}")
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not ready after {timeout} s")
