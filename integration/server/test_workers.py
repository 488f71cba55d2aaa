"""Workers under the master: idle connections do not pin them, retirement, crashes, TERM under load."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections import Counter

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.server.daemon_helpers import (
    ONE_WORKER,
    children,
    echo_config,
    request,
    server_side_inode,
    socket_inodes,
    wait_for,
    worker_pids_in_log,
)

FOUR_WORKERS_AT_MOST = "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 2\nmax_servers = 4\n"


#: idle connections are kept this long: a daemon that gives each one a worker answers a new client
#: only when they time out, far beyond the generous bound below
LONG_KEEPALIVE = 600
NOT_STARVED = 60


def test_idle_keepalive_connections_do_not_starve_new_clients(python_mtpolicyd: DaemonFactory) -> None:
    settings = FOUR_WORKERS_AT_MOST + f"keepalive_timeout = {LONG_KEEPALIVE}\n"
    daemon = python_mtpolicyd(echo_config("first", settings=settings))
    idle = [PolicyConnection(daemon.host, daemon.port) for _ in range(200)]
    try:
        for number, conn in enumerate(idle):
            conn.request(request(f"192.0.2.{number % 250}"))  # used once, then idle like Postfix's
        with PolicyConnection(daemon.host, daemon.port, timeout=NOT_STARVED) as fresh:
            answer = fresh.request(request("198.51.100.1"))
        assert answer == ["action=reject first 198.51.100.1"]
        # the idle connections were not closed to make room: each answers again on its socket
        assert idle[0].request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
        assert idle[-1].request(request("192.0.2.2")) == ["action=reject first 192.0.2.2"]
        assert len(children(daemon.pid or 0)) <= 4
    finally:
        for conn in idle:
            conn.close()


def test_worker_is_replaced_after_max_requests(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings=ONE_WORKER + "max_requests = 5\nlog_level = 3\n"))
    for number in range(100):  # spares may share the load; some worker reaches 5 soon
        assert daemon.request(request(f"192.0.2.{number}")) == [f"action=reject first 192.0.2.{number}"]
        if "exited after 5 requests" in daemon.log_text() and number >= 12:
            break
    log = daemon.log_text()
    assert "retiring (served max_requests=5)" in log
    assert len(set(worker_pids_in_log(log))) >= 3
    assert all(count <= 5 for count in Counter(worker_pids_in_log(log)).values())


def test_killed_worker_loses_no_other_connection_and_is_restarted(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings=FOUR_WORKERS_AT_MOST + "log_level = 3\n"))
    master = daemon.pid or 0
    connections = [PolicyConnection(daemon.host, daemon.port) for _ in range(20)]
    try:
        for conn in connections:
            conn.request(request("192.0.2.1"))
        owner: dict[PolicyConnection, int] = {}

        def every_owner_found() -> bool:  # /proc is read while workers come and go: read it again
            workers = children(master)
            for conn in connections:
                found = [pid for pid in workers if server_side_inode(conn.sock) in socket_inodes(pid)]
                if found:
                    owner[conn] = found[0]
            return len(owner) == len(connections)

        wait_for(every_owner_found, 30, "the worker holding each connection")
        victim = owner[connections[0]]
        os.kill(victim, signal.SIGKILL)
        daemon.wait_for_log(f"worker {victim} killed by signal 9")
        for conn in connections:
            if owner[conn] != victim:
                assert conn.request(request("192.0.2.2")) == ["action=reject first 192.0.2.2"]
        wait_for(lambda: len(children(master) - {victim}) >= 2, 10, "a replacement worker")
        assert daemon.request(request("192.0.2.3")) == ["action=reject first 192.0.2.3"]
    finally:
        for conn in connections:
            conn.close()


def test_term_under_load_answers_every_request_it_took_and_exits_0(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    answered = [0] * 8
    partial: list[str] = []
    stop = threading.Event()

    def client(number: int) -> None:
        while not stop.is_set():
            try:
                with daemon.connect() as conn:
                    while True:
                        if conn.request(request("192.0.2.1")) != ["action=reject first 192.0.2.1"]:
                            partial.append("wrong answer")
                        answered[number] += 1
            except ConnectionError as error:  # closed by the daemon: Postfix reconnects
                if "got [" in str(error) and "got []" not in str(error):
                    partial.append(str(error))
            except OSError:
                return  # refused: the daemon is gone

    threads = [threading.Thread(target=client, args=(number,)) for number in range(len(answered))]
    for thread in threads:
        thread.start()
    wait_for(lambda: sum(answered) > 200, 30, "some load")
    process = daemon.process.process
    assert process is not None
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(30) == 0
    stop.set()
    for thread in threads:
        thread.join(30)
    assert partial == []
    assert daemon.log_text().count("result=reject first") == sum(answered)
    with socket.socket() as probe:
        assert probe.connect_ex((daemon.host, daemon.port)) != 0
