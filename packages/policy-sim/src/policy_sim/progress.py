"""A live progress line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28
PLAIN_INTERVAL = 5.0
TTY_INTERVAL = 0.2


class Progress:
    """Shows how far a run is: ``done`` of ``total`` units (mails, or seconds of a load run)."""

    def __init__(self, total: float, unit: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.is_tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_shown = 0.0

    def update(self, done: float, requests: int, errors: int, force: bool = False) -> None:
        """Redraw (a terminal) or print a line (otherwise) when enough time has passed."""
        if not self.enabled:
            return
        now = time.monotonic()
        interval = TTY_INTERVAL if self.is_tty else PLAIN_INTERVAL
        if not force and now - self._last_shown < interval:
            return
        self._last_shown = now
        elapsed = now - self.started
        fraction = min(1.0, done / self.total) if self.total else 1.0
        rate = requests / elapsed if elapsed > 0 else 0.0
        figures = (
            f"{done:.0f}/{self.total:.0f} {self.unit} {elapsed:6.1f}s {requests} req "
            f"{rate:7.1f} req/s {errors} errors"
        )
        if self.is_tty:
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%} {figures}\x1b[K")
        else:
            self.stream.write(f"progress: {fraction:4.0%} {figures}\n")
        self.stream.flush()

    def finish(self, done: float, requests: int, errors: int) -> None:
        """Show the final state and end the terminal line."""
        self.update(done, requests, errors, force=True)
        if self.enabled and self.is_tty:
            self.stream.write("\n")
            self.stream.flush()
