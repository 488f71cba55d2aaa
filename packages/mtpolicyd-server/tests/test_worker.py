"""A worker process on a real socket, with an engine that fails on purpose."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator, Mapping

import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.vhost import VirtualHost
from mtpolicyd_server.fd_limits import default_connection_cap
from mtpolicyd_server.listeners import Address, bind_all
from mtpolicyd_server.scoreboard import WorkerStatus
from mtpolicyd_server.worker import Worker, connection_cap, retirement_count

CONFIG = """<VirtualHost {port}>
  name = "test"
  <Plugin answer>
    module = "Action"
    action = "reject go away"
  </Plugin>
</VirtualHost>
"""


class FaultyEngine(PolicyEngine):
    """Crashes in vhost selection when the request asks for it (a bug outside the chain)."""

    def vhost_for(self, port: int | str, attributes: Mapping[str, str]) -> VirtualHost | None:
        if attributes.get("crash"):
            raise RuntimeError("bug in vhost selection")
        return super().vhost_for(port, attributes)


@pytest.fixture
def worker_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A forked worker serving FaultyEngine on a free port; stopped with TERM, must exit 0.

    Indirect parametrization adds global settings (e.g. ``max_requests = 2``).
    """
    settings = getattr(request, "param", "")
    [listener] = bind_all([Address("127.0.0.1", 0)])
    port = listener.sock.getsockname()[1]
    engine = FaultyEngine(load_config_text(settings + CONFIG.format(port=port)))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = Worker(engine, [listener], WorkerStatus()).run()
        finally:
            os._exit(code)
    listener.close()
    yield port
    os.kill(pid, signal.SIGTERM)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def ask(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    reply = b""
    while not reply.endswith(b"\n\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def test_unexpected_error_closes_only_that_connection(worker_port: int) -> None:
    with (
        socket.create_connection(("127.0.0.1", worker_port), timeout=10) as good,
        socket.create_connection(("127.0.0.1", worker_port), timeout=10) as bad,
    ):
        assert ask(good, b"request=smtpd_access_policy\n\n") == b"action=reject go away\n\n"
        assert ask(bad, b"request=smtpd_access_policy\ncrash=1\n\n") == b""
        assert ask(good, b"request=smtpd_access_policy\n\n") == b"action=reject go away\n\n"


def test_pipelined_requests_are_answered_in_order(worker_port: int) -> None:
    with socket.create_connection(("127.0.0.1", worker_port), timeout=10) as sock:
        sock.sendall(
            b"".join(b"request=smtpd_access_policy\ninstance=%d\n\n" % number for number in (1, 2, 3))
        )
        reply = b""
        while reply.count(b"\n\n") < 3 and (chunk := sock.recv(4096)):
            reply += chunk
    assert reply == b"action=reject go away\n\n" * 3


@pytest.mark.parametrize("worker_port", ["max_requests = 2\n"], indirect=True)
def test_max_requests_counts_connections_so_a_kept_alive_one_is_not_cut(worker_port: int) -> None:
    with socket.create_connection(("127.0.0.1", worker_port), timeout=10) as sock:
        for _ in range(5):
            assert ask(sock, b"request=smtpd_access_policy\n\n") == b"action=reject go away\n\n"


@pytest.mark.parametrize("worker_port", ["max_requests = 2\nmax_requests_jitter = 0\n"], indirect=True)
def test_retiring_worker_keeps_serving_the_connections_it_holds(worker_port: int) -> None:
    # the second connection makes the worker retire before either has sent a request
    with (
        socket.create_connection(("127.0.0.1", worker_port), timeout=10) as first,
        socket.create_connection(("127.0.0.1", worker_port), timeout=10) as second,
    ):
        for _ in range(3):
            for sock in (first, second):
                assert ask(sock, b"request=smtpd_access_policy\n\n") == b"action=reject go away\n\n"


def test_empty_request_is_answered_once_then_the_connection_ends(worker_port: int) -> None:
    with socket.create_connection(("127.0.0.1", worker_port), timeout=30) as sock:
        sock.sendall(b"\n" * (1 << 20))
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(4096):  # no reset: the daemon drained what we sent
            received += chunk
    assert received == b"action=reject go away\n\n"


def test_retirement_count_is_max_requests_less_a_jitter_never_more() -> None:
    counts = {retirement_count(ServerConfig(max_requests=1000)) for _ in range(500)}
    assert min(counts) >= 900
    assert max(counts) <= 1000
    assert len(counts) > 10
    assert retirement_count(ServerConfig(max_requests=2, max_requests_jitter=0)) == 2
    assert retirement_count(ServerConfig(max_requests=5, max_requests_jitter=100)) >= 1


def test_max_requests_0_retires_after_one_connection_as_net_server_does() -> None:
    assert retirement_count(ServerConfig(max_requests=0)) == 1


def test_connection_cap_from_the_open_file_limit_unless_configured() -> None:
    import resource  # noqa: PLC0415

    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert connection_cap(ServerConfig()) == default_connection_cap(limit)
    assert connection_cap(ServerConfig(max_connections_per_worker=10)) == 10
    assert connection_cap(ServerConfig(max_connections_per_worker=0)) == 0
