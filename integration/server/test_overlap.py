"""One worker overlaps requests: while one waits (DNS, a stopped back-end, a stuck proxy) it serves others.

These talk to the daemon over its sockets only, so they hold for any worker implementation. The daemon
runs exactly one worker (``max_servers = 1``): the overlap has to come from inside it. Each test proves
the overlap by an event — the DNS front saw 64 queries in flight at once; N answers arrived together
where one at a time would spread them over N back-end timeouts; answers arrived while another
connection was still stuck — and otherwise waits with generous outer bounds only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from integration.fixtures.containers import ContainerProcess
from integration.fixtures.delayed_dns import DelayedDns
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import encode_request
from integration.server.daemon_helpers import children, echo_config, request, wait_for

#: exactly one worker process, never a spare: concurrency must come from inside it
SINGLE_WORKER = "min_servers = 1\nmin_spare_servers = 0\nmax_spare_servers = 0\nmax_servers = 1\n"
#: the outer bound of every wait: far beyond what any implementation needs, only against hanging
PATIENCE = 120.0

DelayedDnsFactory = Callable[..., DelayedDns]

RBL_VHOST = """<VirtualHost {port}>
  name = "rbl"
  <Plugin bl>
    module = "RBL"
    domain = "bl.test"
    mode = "reject"
  </Plugin>
</VirtualHost>
"""


def listed_zone(addresses: Sequence[str]) -> dict[str, str]:
    """An rbldnsd ip4set listing ``addresses``; the TXT text names the address (``$``)."""
    return {"bl.test": ":127.0.0.2:listed-$\n" + "".join(f"{address}\n" for address in addresses)}


def rbl_answer(address: str, listed: bool) -> list[str]:
    """What the RBL vhost answers for a client."""
    return (
        [f"action=reject delivery from {address} rejected (listed-{address})"] if listed else ["action=dunno"]
    )


def resolver_env(dns: DelayedDns) -> dict[str, str]:
    """The front, one try of 15 s per query: no retransmission while the barrier holds an answer."""
    return {**dns.env, "RES_OPTIONS": dns.env["RES_OPTIONS"] + " timeout:15 attempts:1"}


async def _exchange(host: str, port: int, attributes: Mapping[str, str]) -> tuple[list[str], float]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(encode_request(attributes))
        await writer.drain()
        lines = []
        while (line := (await reader.readline()).decode().rstrip("\r\n")) != "":
            lines.append(line)
        return lines, time.monotonic()
    finally:
        writer.close()


def concurrent_requests(
    host: str, port: int, requests: Sequence[Mapping[str, str]]
) -> list[tuple[list[str], float]]:
    """Each request on its own connection, all sent at once; (answer lines, arrival time) in order."""

    async def run() -> list[tuple[list[str], float]]:
        exchanges = (_exchange(host, port, attributes) for attributes in requests)
        return list(await asyncio.wait_for(asyncio.gather(*exchanges), PATIENCE))

    return asyncio.run(run())


def read_answers(sock: socket.socket, count: int) -> list[list[str]]:
    """``count`` answers from one connection, in the order they arrive."""
    reader = sock.makefile("rb")
    answers: list[list[str]] = []
    lines: list[str] = []
    while len(answers) < count:
        raw = reader.readline()
        assert raw, f"connection closed after {len(answers)} answers"
        line = raw.decode().rstrip("\r\n")
        if line:
            lines.append(line)
        else:
            answers.append(lines)
            lines = []
    return answers


@contextlib.contextmanager
def frozen(memcached: MemcachedServer) -> Iterator[None]:
    """memcached stopped, not killed (SIGSTOP, or ``docker pause``), and continued afterwards."""
    process = memcached.process
    if isinstance(process, ContainerProcess):
        container = process.container.get_wrapped_container()
        container.pause()
        try:
            yield
        finally:
            container.unpause()
        return
    assert process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def assert_one_worker(pid: int | None) -> None:
    """The daemon ran with exactly one worker process."""
    assert len(children(pid or 0)) == 1


def test_sixty_four_dns_lookups_overlap_in_one_worker(
    python_mtpolicyd: DaemonFactory, delayed_dns: DelayedDnsFactory
) -> None:
    addresses = [f"192.0.2.{number}" for number in range(1, 65)]
    listed = set(addresses[::2])
    # every answer 200 ms late, and held until all 64 look-ups are in flight (or 10 s passed)
    dns = delayed_dns(listed_zone(sorted(listed)), delay_ms=200, barrier=64, barrier_timeout=10)
    daemon = python_mtpolicyd(SINGLE_WORKER + RBL_VHOST, env=resolver_env(dns))
    requests = [request(address, instance=f"overlap-{number}") for number, address in enumerate(addresses)]

    results = concurrent_requests(daemon.host, daemon.port, requests)

    assert [answer for answer, _ in results] == [
        rbl_answer(address, address in listed) for address in addresses
    ]
    status = dns.status()
    assert status["barrier"]["state"] == "released", (
        f"the 64 look-ups never were in flight together (at most {status['max_in_flight']}): {status}"
    )
    assert status["max_in_flight"] >= 64
    assert_one_worker(daemon.pid)


SESSION_CONFIG = """
<Connection memcached>
  module = "Memcached"
  servers = "{memcached}"
  namespace = "overlap-"
  timeout = {timeout}
</Connection>
<SessionCache>
  module = "Memcached"
  failure_mode = "action"
  failure_action = "defer_if_permit session store unavailable"
</SessionCache>
<VirtualHost {port}>
  name = "sessions"
  <Plugin count>
    module = "Condition"
    key = "request"
    match = "smtpd_access_policy"
    score = 1
  </Plugin>
  <Plugin answer>
    module = "ScoreAction"
    threshold = 0
    action = "reject score %SCORE% for %IP%"
  </Plugin>
</VirtualHost>
"""


def test_requests_waiting_on_a_stopped_memcached_time_out_together(
    python_mtpolicyd: DaemonFactory, memcached_factory: Callable[[], MemcachedServer]
) -> None:
    memcached = memcached_factory()
    timeout, count = 2, 8
    daemon = python_mtpolicyd(SINGLE_WORKER + SESSION_CONFIG, memcached=memcached.address, timeout=timeout)
    assert daemon.request(request("192.0.2.1", instance="before")) == ["action=reject score 1 for 192.0.2.1"]
    with frozen(memcached):  # connections are still accepted; nothing is answered
        requests = [
            request(f"192.0.2.{number}", instance=f"stopped-{number}") for number in range(1, count + 1)
        ]
        results = concurrent_requests(daemon.host, daemon.port, requests)

    assert [answer for answer, _ in results] == [["action=defer_if_permit session store unavailable"]] * count
    arrivals = [arrived for _, arrived in results]
    spread = max(arrivals) - min(arrivals)
    # one at a time, the answers would come one back-end timeout apart: (count - 1) x 2 s = 14 s
    assert spread < count * timeout / 2, f"answers spread over {spread:.1f} s: the requests waited in turn"
    assert_one_worker(daemon.pid)

    # sessions work again (fresh instances: the stopped memcached still took the old ones' lock commands)
    def session_kept() -> bool:
        first = daemon.request(request("192.0.2.9", instance=f"after-{time.monotonic()}"))
        return first == ["action=reject score 1 for 192.0.2.9"]

    wait_for(session_kept, 30, "memcached sessions after SIGCONT")
    with daemon.connect() as conn:
        assert conn.request(request("192.0.2.9", instance="after")) == ["action=reject score 1 for 192.0.2.9"]
        assert conn.request(request("192.0.2.9", instance="after")) == ["action=reject score 2 for 192.0.2.9"]


def test_pipelined_requests_are_answered_in_order(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("echo", settings=SINGLE_WORKER))
    addresses = [f"192.0.2.{number}" for number in range(1, 11)]
    with socket.create_connection((daemon.host, daemon.port), timeout=PATIENCE) as sock:
        sock.sendall(b"".join(encode_request(request(address)) for address in addresses))
        answers = read_answers(sock, len(addresses))
    assert answers == [[f"action=reject echo {address}"] for address in addresses]


def test_pipelined_requests_keep_their_order_when_later_ones_finish_first(
    python_mtpolicyd: DaemonFactory, delayed_dns: DelayedDnsFactory
) -> None:
    # listed clients take two round trips (A, then TXT), the others one: answered as completed,
    # the unlisted ones would overtake
    addresses = [f"192.0.2.{number}" for number in range(1, 9)]
    listed = {addresses[0], addresses[3], addresses[4]}
    dns = delayed_dns(listed_zone(sorted(listed)), delay_ms=300)
    daemon = python_mtpolicyd(SINGLE_WORKER + RBL_VHOST, env=resolver_env(dns))
    with socket.create_connection((daemon.host, daemon.port), timeout=PATIENCE) as sock:
        sock.sendall(b"".join(encode_request(request(address)) for address in addresses))
        answers = read_answers(sock, len(addresses))
    assert answers == [rbl_answer(address, address in listed) for address in addresses]


STUCK_VHOST = """<VirtualHost {port2}>
  name = "stuck"
  <Plugin forward>
    module = "Proxy"
    host = "127.0.0.1:{stuck}"
  </Plugin>
</VirtualHost>
"""


def test_other_connections_are_answered_while_one_request_is_stuck(python_mtpolicyd: DaemonFactory) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings = SINGLE_WORKER + "request_timeout = 10\n"
        daemon = python_mtpolicyd(echo_config("echo", settings=settings) + STUCK_VHOST,
                                  stuck=silent.getsockname()[1])  # fmt: skip
        with socket.create_connection((daemon.host, daemon.ports[1]), timeout=PATIENCE) as stuck:
            stuck.sendall(encode_request(request("198.51.100.1")))
            silent.settimeout(PATIENCE)
            proxied, _ = silent.accept()  # the stuck request is running: its Proxy plugin connected
            with proxied:
                addresses = [f"192.0.2.{number}" for number in range(1, 5)]
                results = concurrent_requests(daemon.host, daemon.port, [request(a) for a in addresses])
                readable, _, _ = select.select([stuck], [], [], 0)
                assert not readable, "the others were answered only after the stuck request was given up"
                assert [answer for answer, _ in results] == [[f"action=reject echo {a}"] for a in addresses]
                assert_one_worker(daemon.pid)
                # and request_timeout still cuts the stuck one: closed without an answer
                stuck.settimeout(PATIENCE)
                assert stuck.recv(4096) == b""
