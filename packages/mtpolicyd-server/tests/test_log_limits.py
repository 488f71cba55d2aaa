"""Rate-limited log lines: a burst per period, then one line saying how many were left out."""

from __future__ import annotations

import logging

import pytest
from mtpolicyd_server.log_limits import RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_only_a_burst_per_period_is_written_and_the_rest_summed_up(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("test.limits"), burst=3, period=1.0, clock=clock)
    with caplog.at_level(logging.ERROR):
        written = [limited.log(logging.ERROR, "accept failed: %s", "EMFILE") for _ in range(10_000)]
        clock.now = 1.5
        limited.log(logging.ERROR, "accept failed: %s", "EMFILE")
    assert written.count(True) == 3
    assert [record.getMessage() for record in caplog.records] == [
        "accept failed: EMFILE",
        "accept failed: EMFILE",
        "accept failed: EMFILE",
        "9997 similar message(s) suppressed",
        "accept failed: EMFILE",
    ]
