"""Requests on reused connections, max_keepalive and vhosts by port, against the real daemon."""

from __future__ import annotations

import threading

import pytest

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.server.daemon_helpers import echo_config, request, wait_for

CLIENTS = 16
REQUESTS = 100


def test_concurrent_keepalive_connections_get_their_own_answers(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    failures: list[str] = []

    def client(number: int) -> None:
        address = f"192.0.2.{number}"
        try:
            with daemon.connect() as conn:
                for count in range(REQUESTS):
                    answer = conn.request(request(address, f"{number}.{count}"))
                    if answer != [f"action=reject first {address}"]:
                        failures.append(f"client {number} request {count}: {answer}")
        except OSError as error:
            failures.append(f"client {number}: {error}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(1, CLIENTS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []

    # workers log just after answering
    def logged() -> int:
        return daemon.log_text().count("result=reject first")

    wait_for(lambda: logged() == CLIENTS * REQUESTS, 10, "every request line")


def test_max_keepalive_closes_the_connection_after_that_many_requests(
    python_mtpolicyd: DaemonFactory,
) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings="max_keepalive = 3\n"))
    with daemon.connect() as conn:
        for _ in range(3):
            assert conn.request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
        assert conn.sock.recv(1) == b""


def test_unlimited_keepalive_by_default(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    with daemon.connect() as conn:
        for _ in range(50):
            assert conn.request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]


def test_each_port_reaches_its_own_vhost(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", "second"))
    first, second = daemon.ports
    assert daemon.request(request("192.0.2.1"), port=first) == ["action=reject first 192.0.2.1"]
    assert daemon.request(request("192.0.2.1"), port=second) == ["action=reject second 192.0.2.1"]


def test_port_without_vhost_closes_the_connection_with_a_log_line(python_mtpolicyd: DaemonFactory) -> None:
    # listens on {port} and {port2}; the only vhost is for {port2}
    config = echo_config("first").replace("<VirtualHost {port}>", "# also on {port}\n<VirtualHost {port2}>")
    daemon = python_mtpolicyd(config)
    without_vhost, with_vhost = daemon.ports
    with pytest.raises(ConnectionError):
        daemon.request(request("192.0.2.1"), port=without_vhost)
    daemon.wait_for_log(f"no virtual host defined for port {without_vhost}")
    assert daemon.request(request("192.0.2.1"), port=with_vhost) == ["action=reject first 192.0.2.1"]


def test_vhost_chosen_by_policy_context_when_enabled(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", "second", settings="vhost_by_policy_context = 1\n"))
    attributes = {**request("192.0.2.1"), "policy_context": "second"}
    assert daemon.request(attributes, port=daemon.ports[0]) == ["action=reject second 192.0.2.1"]


def test_keepalive_timeout_closes_an_idle_connection(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings="keepalive_timeout = 1\nlog_level = 3\n"))
    with PolicyConnection(daemon.host, daemon.port, timeout=15) as conn:
        conn.request(request("192.0.2.1"))
        assert conn.sock.recv(1) == b""
    daemon.wait_for_log("keepalive timeout: closing connection")
