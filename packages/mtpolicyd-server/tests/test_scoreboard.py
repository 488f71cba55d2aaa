"""The shared worker status page."""

from __future__ import annotations

import os
import struct
import time

import pytest
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


class Clock:
    """The master's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_silence_is_measured_on_the_masters_clock_from_the_last_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    status = WorkerStatus()
    clock.now += 4
    assert status.silent_for() == 4
    status.beat()  # the worker's loop
    clock.now += 1
    assert status.silent_for() == 0  # a change seen now
    clock.now += 11
    assert status.silent_for() == 11
    status.close()


def test_a_heartbeat_field_holding_any_value_is_no_silence_until_it_stops_changing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a page read as zeros once (seen under heavy load) must not make a fresh worker "silent for hours"
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    status = WorkerStatus()
    struct.pack_into("=d", status._page, 0, 0.0)
    assert status.silent_for() == 0
    clock.now += 3
    assert status.silent_for() == 3
    status.close()
