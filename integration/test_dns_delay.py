"""The delaying DNS front: answers come late by the configured delay, many queries are in flight at
once, and the barrier holds answers until enough queries overlap (or its deadline passes)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rdatatype

from integration.fixtures.delayed_dns import DelayedDns

ZONES = {"bl.test": ":127.0.0.2:listed $\n127.0.0.2\n192.0.2.0/25\n"}
DelayedDnsFactory = Callable[..., DelayedDns]


def listed(number: int) -> str:
    """The query name of a listed client (192.0.2.0/25)."""
    return f"{number}.2.0.192.bl.test."


def send_query(front: DelayedDns, name: str) -> tuple[socket.socket, dns.message.Message]:
    """An A query for ``name`` sent from a socket of its own; the socket and the query."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(60)
    query = dns.message.make_query(name, dns.rdatatype.A)
    sock.sendto(query.to_wire(), (front.host, front.port))
    return sock, query


def receive_answer(sock: socket.socket, query: dns.message.Message) -> dns.message.Message:
    """The answer to ``query`` (fails the test after the socket's generous timeout)."""
    with sock:
        data, _ = sock.recvfrom(4096)
    answer = dns.message.from_wire(data)
    assert answer.id == query.id
    assert answer.question == query.question
    return answer


def first_address(answer: dns.message.Message) -> str:
    """The first A record of an answer."""
    return str(answer.answer[0][0])


def test_every_answer_comes_at_least_the_delay_after_its_query(delayed_dns: DelayedDnsFactory) -> None:
    front = delayed_dns(ZONES, delay_ms=300)
    for name, expected in ((listed(7), "127.0.0.2"), ("1.100.51.198.bl.test.", None)):
        started = time.monotonic()
        answer = receive_answer(*send_query(front, name))
        assert time.monotonic() - started >= 0.29
        if expected is None:
            assert answer.rcode() == dns.rcode.NXDOMAIN
        else:
            assert first_address(answer) == expected
    status = front.status()
    assert (status["received"], status["answered"], status["in_flight"]) == (2, 2, 0)


def test_queries_are_forwarded_independently_and_the_in_flight_maximum_is_counted(
    delayed_dns: DelayedDnsFactory,
) -> None:
    front = delayed_dns(ZONES, delay_ms=2000)
    sent = [send_query(front, listed(number)) for number in range(1, 21)]
    answers = [receive_answer(sock, query) for sock, query in sent]
    assert [first_address(answer) for answer in answers] == ["127.0.0.2"] * 20
    status = front.status()
    assert status["max_in_flight"] == 20
    assert (status["received"], status["answered"], status["in_flight"]) == (20, 20, 0)
    assert front.reset()["max_in_flight"] == 0


def test_a_retransmitted_query_is_answered_once(delayed_dns: DelayedDnsFactory) -> None:
    front = delayed_dns(ZONES, delay_ms=500)
    sock, query = send_query(front, listed(3))
    sock.sendto(query.to_wire(), (front.host, front.port))
    assert first_address(receive_answer(sock, query)) == "127.0.0.2"
    status = front.status()
    assert (status["received"], status["retransmissions"], status["max_in_flight"]) == (1, 1, 1)


def test_the_barrier_holds_answers_until_enough_queries_are_in_flight(delayed_dns: DelayedDnsFactory) -> None:
    front = delayed_dns(ZONES, delay_ms=0, barrier=8, barrier_timeout=120)
    sent = [send_query(front, listed(number)) for number in range(1, 8)]
    deadline = time.monotonic() + 30
    while front.status()["barrier"]["held"] < 7:
        assert time.monotonic() < deadline, front.status()
        time.sleep(0.05)
    readable, _, _ = select.select([sock for sock, _ in sent], [], [], 0)
    assert not readable, "an answer left before the barrier opened"
    sent.append(send_query(front, listed(8)))
    answers = [receive_answer(sock, query) for sock, query in sent]
    assert [first_address(answer) for answer in answers] == ["127.0.0.2"] * 8
    barrier = front.status()["barrier"]
    assert (barrier["state"], barrier["released_at_in_flight"], barrier["held"]) == ("released", 8, 0)


def test_the_barrier_releases_at_its_deadline_when_too_few_queries_overlap(
    delayed_dns: DelayedDnsFactory,
) -> None:
    front = delayed_dns(ZONES, delay_ms=0, barrier=5, barrier_timeout=1.0)
    started = time.monotonic()
    sent = [send_query(front, listed(number)) for number in (1, 2)]
    assert [first_address(receive_answer(sock, query)) for sock, query in sent] == ["127.0.0.2"] * 2
    assert time.monotonic() - started >= 0.99
    status = front.status()
    assert (status["barrier"]["state"], status["max_in_flight"]) == ("timed-out", 2)
    # re-armed by reset: holds again
    assert front.reset()["barrier"]["state"] == "armed"
