"""The master's HTTP endpoints: /health asks a worker through a policy port; nothing loaded when off."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_server.endpoints import MasterEndpoints, probe_address
from mtpolicyd_server.health import PROBE_ANSWER, probe_worker


def answering_port(answer: bytes | None) -> tuple[socket.socket, int]:
    """A listening socket whose one client gets ``answer`` (None: never an answer, as a stopped worker)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            if answer is not None:
                conn.sendall(answer)
            else:
                conn.recv(4096)  # until the prober gives up

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_probe_succeeds_only_on_the_probe_answer() -> None:
    listener, port = answering_port(PROBE_ANSWER)
    with listener:
        assert probe_worker(("127.0.0.1", port))
    listener, port = answering_port(b"action=reject\n\n")
    with listener:
        assert not probe_worker(("127.0.0.1", port))


def test_probe_fails_when_no_worker_answers_in_time() -> None:
    listener, port = answering_port(None)
    with listener:
        assert not probe_worker(("127.0.0.1", port), timeout=0.2)


def test_wildcard_listeners_are_probed_on_loopback() -> None:
    assert probe_address(("0.0.0.0", 12345)) == ("127.0.0.1", 12345)
    assert probe_address(("::", 12345, 0, 0)) == ("::1", 12345)  # type: ignore[arg-type]
    assert probe_address(("192.0.2.1", 12345)) == ("192.0.2.1", 12345)


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_health_endpoint_is_200_with_an_answering_worker_else_503_and_other_paths_404() -> None:
    with socket.create_server(("127.0.0.1", 0)) as spare:
        http_port = spare.getsockname()[1]
    listener, policy_port = answering_port(PROBE_ANSWER)
    endpoints = MasterEndpoints(
        ServerConfig(health_address=f"127.0.0.1:{http_port}"), ("127.0.0.1", policy_port), list
    )
    endpoints.start()
    try:
        assert get(http_port, "/health") == 200
        listener.close()  # nobody listens any more
        assert get(http_port, "/health") == 503
        assert get(http_port, "/metrics") == 404  # metrics_address not set
    finally:
        endpoints.close()


def test_a_daemon_without_endpoints_loads_neither_http_server_nor_prometheus_client() -> None:
    code = (
        "import sys, mtpolicyd_server.cli, mtpolicyd_server.master, mtpolicyd_server.worker;"
        "print(sorted(m for m in ('prometheus_client', 'http.server') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
