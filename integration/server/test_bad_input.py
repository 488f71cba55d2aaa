"""Bad clients: each loses its connection with a log line; the worker goes on serving the others."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.server.daemon_helpers import ONE_WORKER, echo_config, request, wait_for

GOOD = ["action=reject first 192.0.2.1"]


@pytest.fixture
def daemon(python_mtpolicyd: DaemonFactory) -> MtpolicydDaemon:
    """One worker (never retired), so the bad client and the good one share it; reads give up after 3 s."""
    settings = ONE_WORKER + "read_timeout = 3\nlog_level = 3\nmax_requests = 1000000\nkeepalive_timeout = 0\n"
    return python_mtpolicyd(echo_config("first", settings=settings))


@pytest.fixture
def good(daemon: MtpolicydDaemon) -> Iterator[PolicyConnection]:
    """A well-behaved keep-alive client, answered before and after the bad one."""
    with daemon.connect() as conn:
        assert conn.request(request("192.0.2.1")) == GOOD
        yield conn
        assert conn.request(request("192.0.2.1")) == GOOD


def send_bad(daemon: MtpolicydDaemon, data: bytes) -> bytes:
    """Send ``data`` and end our side of a new connection; what the daemon sent back before closing."""
    with socket.create_connection((daemon.host, daemon.port), timeout=15) as sock:
        with contextlib.suppress(OSError):  # the daemon may close while we still send
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(4096):
                received += chunk
        return received


def test_line_without_equals_sign(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    assert send_bad(daemon, b"request=smtpd_access_policy\ngarbage\n\n") == b""
    daemon.wait_for_log("error while reading request: error parsing request: line without '='")


def test_one_mebibyte_line(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    assert send_bad(daemon, b"sender=" + b"a" * (1 << 20) + b"\n\n") == b""
    daemon.wait_for_log("line longer than max_line_length")


def test_ten_thousand_attributes(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    data = b"".join(b"attribute%d=x\n" % number for number in range(10_000)) + b"\n"
    assert send_bad(daemon, data) == b""
    daemon.wait_for_log("more than max_request_attributes (1000) attributes")


def test_nul_bytes(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    assert send_bad(daemon, b"request=smtpd_access_policy\nsender=a\0b@example.org\n\n") == b""
    daemon.wait_for_log("NUL byte in request")


def test_invalid_utf8_is_answered_with_the_bytes_as_sent(
    daemon: MtpolicydDaemon, good: PolicyConnection
) -> None:
    reply = send_bad(daemon, b"request=smtpd_access_policy\ninstance=u\nclient_address=caf\xe9\n\n")
    assert reply == b"action=reject first caf\xe9\n\n"
    daemon.wait_for_log("request is not valid UTF-8; bytes kept as sent (vhost=first, instance=u)")


def test_client_closing_mid_request(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    with socket.create_connection((daemon.host, daemon.port)) as sock:
        sock.sendall(b"request=smtpd_access_policy\ninstance=")
        time.sleep(0.2)
    daemon.wait_for_log("connection closed by peer in the middle of a request")


def test_slow_client_is_cut_off_at_read_timeout(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    data = b"request=smtpd_access_policy\ninstance=slow\n\n"
    started = time.monotonic()
    with socket.create_connection((daemon.host, daemon.port), timeout=15) as sock:
        closed = False
        for byte in data[:-1]:
            try:
                sock.sendall(bytes([byte]))
                # the good client is answered at once while the slow one dribbles
                assert good.request(request("192.0.2.1")) == GOOD
            except OSError:
                closed = True
                break
            time.sleep(0.5)
            if time.monotonic() - started > 10:
                break
        if not closed:
            assert sock.recv(4096) == b""
    daemon.wait_for_log("request not complete after read_timeout=3 s: closing connection")


def test_client_that_never_reads_its_answers(daemon: MtpolicydDaemon, good: PolicyConnection) -> None:
    flood = b"request=smtpd_access_policy\ninstance=flood\nclient_address=192.0.2.1\n\n" * 200_000
    # A small receive window keeps the kernel from buffering megabytes of answers for us: the daemon
    # soon cannot send, stops reading, and sendall blocks until the daemon closes the connection.
    # On a loaded machine sendall may also time out in the middle of a request: then the daemon cuts the
    # connection for the half-sent request instead; either way it is cut off with a log line.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(120)
        sock.connect((daemon.host, daemon.port))
        with contextlib.suppress(OSError):
            sock.sendall(flood)
        wait_for(
            lambda: (
                "client took no answer for read_timeout=3 s" in daemon.log_text()
                or "request not complete after read_timeout=3 s" in daemon.log_text()
            ),
            60,
            "the daemon to cut off the client",
        )


def test_a_stream_of_empty_lines_gets_one_answer_then_the_connection_closes(
    daemon: MtpolicydDaemon, good: PolicyConnection
) -> None:
    before = len(daemon.log_text().splitlines())
    assert send_bad(daemon, b"\n" * (1 << 20)) == b"action=reject first unknown\n\n"  # as the original
    daemon.wait_for_log("error while processing request: empty request (no attributes, no type)")
    assert send_bad(daemon, b"\n" * (1 << 20)) == b"action=reject first unknown\n\n"
    time.sleep(0.5)
    assert len(daemon.log_text().splitlines()) - before < 20


def test_a_request_without_a_request_attribute_is_answered_then_the_connection_closes(
    daemon: MtpolicydDaemon, good: PolicyConnection
) -> None:
    # the original answers, then dies logging the request's type (undefined): the second is lost
    one = b"instance=no-type\nclient_address=192.0.2.7\n\n"
    assert (
        send_bad(daemon, one + b"request=smtpd_access_policy\n" + one) == b"action=reject first 192.0.2.7\n\n"
    )
    daemon.wait_for_log("error while processing request: request without a request attribute (no type)")
