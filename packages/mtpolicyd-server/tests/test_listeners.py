"""``port = [host:]port, …`` parsing and binding."""

from __future__ import annotations

import socket

import pytest
from mtpolicyd_server.listeners import Address, bind_all, parse_ports


def test_port_list_with_and_without_host() -> None:
    assert parse_ports(["127.0.0.1:12345", " 12346", "[::1]:12347"], "127.0.0.2") == [
        Address("127.0.0.1", 12345),
        Address("127.0.0.2", 12346),
        Address("::1", 12347),
    ]


@pytest.mark.parametrize("spec", ["host:", "abc", "127.0.0.1:0", "127.0.0.1:70000"])
def test_bad_port_entry_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="not \\[host:\\]port"):
        parse_ports([spec], "127.0.0.1")


def test_address_prints_ipv6_in_brackets() -> None:
    assert str(Address("::1", 25)) == "[::1]:25"
    assert str(Address("127.0.0.1", 25)) == "127.0.0.1:25"


def test_bound_listener_accepts_connections_on_its_port() -> None:
    [listener] = bind_all([Address("127.0.0.1", 0)])
    try:
        port = listener.sock.getsockname()[1]
        assert listener.port == port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert not listener.sock.getblocking()
    finally:
        listener.close()


def test_bind_failure_names_the_address_and_closes_the_others() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_all([Address("127.0.0.1", 0), Address("127.0.0.1", port)])
