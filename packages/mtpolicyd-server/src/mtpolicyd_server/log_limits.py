"""Log lines a client or the kernel can repeat thousands of times a second, said a few times only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """At most ``burst`` lines per ``period`` seconds; the rest are counted and summed up in one line."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 5,
        period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.period = period
        self.clock = clock
        self._window_start = float("-inf")
        self._written = 0
        self._suppressed = 0

    def log(self, level: int, message: str, *args: object) -> bool:
        """Write the line unless this window's burst is spent; whether it was written."""
        now = self.clock()
        if now - self._window_start >= self.period:
            self.flush(level)
            self._window_start, self._written = now, 0
        if self._written >= self.burst:
            self._suppressed += 1
            return False
        self._written += 1
        self.logger.log(level, message, *args)
        return True

    def flush(self, level: int) -> None:
        """Say how many lines were left out since the last one written."""
        if self._suppressed:
            self.logger.log(level, "%d similar message(s) suppressed", self._suppressed)
            self._suppressed = 0
