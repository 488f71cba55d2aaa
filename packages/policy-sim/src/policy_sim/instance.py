"""Postfix-style ``instance`` and queue ids for one simulated smtpd process."""

from __future__ import annotations

import itertools
import random
import time

_QUEUE_ID_DIGITS = "0123456789ABCDEF"


class SmtpdIdentity:
    """A simulated smtpd process: its pid, its per-process mail counter, its queue ids.

    Postfix builds ``instance`` as ``pid.seconds.microseconds.seqno`` in hex
    (e.g. ``1a2b.5f3c1d2e.4a5b6.0``): pid and counter keep it unique per mail,
    the time keeps it unique across runs against the same session store.
    """

    def __init__(self, pid: int, rng: random.Random | None = None) -> None:
        self.pid = pid
        self.rng = rng or random.Random()
        self._seqno = itertools.count()

    def next_instance(self) -> str:
        """A fresh instance for the next mail this process handles."""
        seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
        return f"{self.pid:x}.{seconds:x}.{micros:x}.{next(self._seqno):x}"

    def next_queue_id(self) -> str:
        """A short-format queue id (11 upper-case hex digits)."""
        return "".join(self.rng.choice(_QUEUE_ID_DIGITS) for _ in range(11))
