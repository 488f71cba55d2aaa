"""The shared worker status page."""

from __future__ import annotations

import os

from mtpolicyd_server.scoreboard import WorkerState, WorkerStatus


def test_state_and_requests_written_in_a_child_are_seen_by_the_parent() -> None:
    status = WorkerStatus()
    pid = os.fork()
    if pid == 0:
        status.set_state(WorkerState.BUSY)
        status.count_request()
        status.count_request()
        os._exit(0)
    os.waitpid(pid, 0)
    age, state, requests = status.read()
    assert (state, requests) == (WorkerState.BUSY, 2)
    assert 0 <= age < 5
    status.close()


def test_count_request_returns_the_running_total() -> None:
    status = WorkerStatus()
    assert [status.count_request() for _ in range(3)] == [1, 2, 3]
    status.close()


def test_open_connections_written_in_a_child_are_seen_by_the_parent() -> None:
    status = WorkerStatus()
    pid = os.fork()
    if pid == 0:
        status.set_connections(7)
        os._exit(0)
    os.waitpid(pid, 0)
    assert status.open_connections() == 7
    status.close()
