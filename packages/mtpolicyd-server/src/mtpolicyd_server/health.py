"""The health probe: the master's ``/health`` asks a worker, through a policy port, to answer.

A probe is a policy request of its own type; the worker answers it from its event loop
without choosing a vhost or running a plugin, so a probe has no side effects (no session,
no greylisting, no quota) and shows only that a worker accepts and answers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping

#: the ``request`` attribute of a probe (Postfix sends ``smtpd_access_policy``)
PROBE_REQUEST = "mtpolicyd_health_probe"
#: what a worker answers a probe
PROBE_ANSWER = b"action=dunno\n\n"
#: seconds a worker has to answer before /health says 503
PROBE_TIMEOUT = 2.0


def is_probe(attributes: Mapping[str, str]) -> bool:
    """Whether a request is the master's health probe."""
    return attributes.get("request") == PROBE_REQUEST


def probe_worker(address: tuple[str, int], timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a worker answers a probe on ``address`` (a policy port) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            sock.sendall(f"request={PROBE_REQUEST}\n\n".encode())
            answer = b""
            while not answer.endswith(b"\n\n"):
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                answer += chunk
            return answer == PROBE_ANSWER
    except OSError:  # refused, reset, or timed out: no worker answered
        return False
