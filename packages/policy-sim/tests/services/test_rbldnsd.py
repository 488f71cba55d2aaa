"""The DNS readiness probe of rbldnsd, without a DNS library."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from policy_sim.services.ports import free_port
from policy_sim.services.rbldnsd import dns_answers, dns_query


def test_query_packet_asks_for_an_a_record() -> None:
    packet = dns_query("ready.invalid", 0x1234)
    assert packet[:2] == b"\x12\x34" and packet[4:6] == b"\x00\x01"  # id, one question
    assert packet[12:] == b"\x05ready\x07invalid\x00\x00\x01\x00\x01"


@pytest.fixture
def echo_dns() -> Iterator[int]:
    """A UDP server that answers every query with its own id (enough for the probe)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                data, peer = sock.recvfrom(512)
            except OSError:
                return
            sock.sendto(data[:2] + b"\x81\x83" + data[4:], peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def test_a_server_that_answers_is_ready(echo_dns: int) -> None:
    assert dns_answers("127.0.0.1", echo_dns)


def test_nothing_listening_is_not_ready() -> None:
    assert not dns_answers("127.0.0.1", free_port(socket.SOCK_DGRAM))
