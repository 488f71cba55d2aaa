"""Retiring workers lose no answer: max_requests under load, every request sent is answered."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.server.daemon_helpers import echo_config, request, wait_for, worker_pids_in_log

SPARES = "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 3\nmax_servers = 8\nlog_level = 3\n"


def test_max_requests_2_under_16_connections_answers_every_request(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(
        echo_config("first", settings=SPARES + "max_requests = 2\nmax_requests_jitter = 0\n")
    )
    failures: list[str] = []
    answered = [0] * 16

    def client(number: int) -> None:
        address = f"192.0.2.{number + 1}"
        try:
            for connection in range(10):  # reconnecting: every second connection retires a worker
                with daemon.connect() as conn:
                    for count in range(10):
                        answer = conn.request(request(address, f"{number}.{connection}.{count}"))
                        if answer != [f"action=reject first {address}"]:
                            failures.append(f"client {number}: {answer}")
                        answered[number] += 1
        except OSError as error:
            failures.append(f"client {number} after {answered[number]} answers: {error}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    assert sum(answered) == 16 * 100
    log = daemon.wait_for_log("retiring (served max_requests=2)")
    assert log.count("retiring (served max_requests=2)") >= 20


def test_ten_thousand_one_request_connections_lose_none(python_mtpolicyd: DaemonFactory) -> None:
    settings = SPARES + "max_requests = 50\n"
    daemon = python_mtpolicyd(echo_config("first", settings=settings))
    total, concurrency = 10_000, 32
    lost: list[str] = []

    async def one(number: int) -> None:
        address = f"198.51.100.{number % 250 + 1}"
        payload = "".join(f"{k}={v}\n" for k, v in request(address, str(number)).items()) + "\n"
        try:
            reader, writer = await asyncio.open_connection(daemon.host, daemon.port)
            writer.write(payload.encode())
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\n\n"), 120)
            writer.close()
            if reply != f"action=reject first {address}\n\n".encode():
                lost.append(f"{number}: {reply!r}")
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            lost.append(f"{number}: {type(error).__name__} {error}")

    async def run() -> None:
        numbers = iter(range(total))

        async def worker() -> None:
            for number in numbers:
                await one(number)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(run())
    assert lost == []
    wait_for(lambda: daemon.log_text().count("retiring (served max_requests=50)") >= 150, 60, "retirements")


def test_max_requests_is_exact_per_worker(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(
        echo_config("first", settings=SPARES + "max_requests = 3\nmax_requests_jitter = 0\n")
    )
    for number in range(60):
        assert daemon.request(request("192.0.2.1", str(number))) == ["action=reject first 192.0.2.1"]
    wait_for(lambda: daemon.log_text().count("result=reject first") == 60, 30, "every request line")
    per_worker = Counter(worker_pids_in_log(daemon.log_text()))
    assert max(per_worker.values()) == 3
    assert sum(per_worker.values()) == 60


def test_kept_alive_connections_of_a_retiring_worker_stay_open(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(
        echo_config("first", settings=SPARES + "max_requests = 2\nmax_requests_jitter = 0\n")
    )
    with (
        PolicyConnection(daemon.host, daemon.port) as first,
        PolicyConnection(daemon.host, daemon.port) as second,
    ):
        for _ in range(20):
            for conn in (first, second):
                assert conn.request(request("192.0.2.9")) == ["action=reject first 192.0.2.9"]
