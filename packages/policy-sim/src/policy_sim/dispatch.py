"""Hand the simulated smtpd processes of every host their next attempt: due retries, then new mails.

New mails are offered up front (replay), as they arrive (open loop) or pulled from ``supply``
(closed loop). A deferred attempt's retry is scheduled on its host after the trace's delay. The
run ends when nothing is queued, running or scheduled and no more arrivals come, or at ``stop_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from policy_sim.fleet import Attempt, retry_of
from policy_sim.outcome import MailOutcome
from policy_sim.smtpd import SimulatedSmtpd

#: Called with every finished attempt (progress display, statistics).
OutcomeListener = Callable[[MailOutcome], None]


class Dispatcher:
    """The work queues of a fleet run, shared by every host's smtpd processes."""

    def __init__(
        self,
        host_names: Sequence[str],
        supply: Callable[[int], Attempt | None] | None = None,
        stop_at: float | None = None,
        retries_until: float | None = None,
        arrivals: bool = False,
    ) -> None:
        self.hosts: Mapping[str, int] = {name: number for number, name in enumerate(host_names)}
        self.retries_ready: list[deque[Attempt]] = [deque() for _ in host_names]
        self.new_mails: list[deque[Attempt]] = [deque() for _ in host_names]
        self.supply = supply  # closed loop: an endless source of new mails per host
        self.stop_at = stop_at  # monotonic time after which nothing more is handed out
        self.retries_until = retries_until  # retries due later are dropped
        self.arrivals_open = arrivals  # open loop: mails keep arriving until close_arrivals()
        self.in_flight = 0
        self.scheduled = 0
        self.changed = asyncio.Condition()
        self._timers: set[asyncio.Task[None]] = set()

    def offer(self, attempt: Attempt) -> None:
        """Queue a new mail on its host (no waiting process is woken: use ``arrive`` for that)."""
        self.new_mails[attempt.host].append(attempt)

    async def arrive(self, attempt: Attempt) -> None:
        """A new mail arrives now (open loop)."""
        async with self.changed:
            self.offer(attempt)
            self.changed.notify_all()

    async def close_arrivals(self) -> None:
        """No more mails will arrive."""
        async with self.changed:
            self.arrivals_open = False
            self.changed.notify_all()

    def _stopped(self) -> bool:
        return self.stop_at is not None and time.monotonic() >= self.stop_at

    def _finished(self) -> bool:
        queued = any(self.retries_ready) or any(self.new_mails)
        return not (queued or self.in_flight or self.scheduled or self.arrivals_open or self.supply)

    async def next(self, host: int) -> Attempt | None:
        """The next attempt for a process of ``host``; None when the run is over."""
        async with self.changed:
            while not self._stopped():
                attempt = self._take(host)
                if attempt is not None:
                    self.in_flight += 1
                    return attempt
                if self._finished():
                    return None
                await self.changed.wait()
            return None

    def _take(self, host: int) -> Attempt | None:
        if self.retries_ready[host]:
            return self.retries_ready[host].popleft()
        if self.new_mails[host]:
            return self.new_mails[host].popleft()
        return self.supply(host) if self.supply is not None else None

    async def done(self, attempt: Attempt, outcome: MailOutcome) -> None:
        """An attempt finished: schedule its retry if the mail was deferred and has one left."""
        retry = retry_of(attempt, outcome, self.hosts)
        async with self.changed:
            self.in_flight -= 1
            if retry is not None:
                delay, next_attempt = retry
                due = time.monotonic() + delay
                if self.retries_until is None or due < self.retries_until:
                    self.scheduled += 1
                    timer = asyncio.create_task(self._retry_later(delay, next_attempt))
                    self._timers.add(timer)
                    timer.add_done_callback(self._timers.discard)
            self.changed.notify_all()

    async def _retry_later(self, delay: float, attempt: Attempt) -> None:
        await asyncio.sleep(delay)
        async with self.changed:
            self.scheduled -= 1
            ready = Attempt(
                attempt.index,
                attempt.mail,
                attempt.host,
                attempt.number,
                attempt.recipients,
                time.monotonic(),
            )
            self.retries_ready[attempt.host].append(ready)
            self.changed.notify_all()

    async def _wake_at_stop(self) -> None:
        if self.stop_at is not None:
            await asyncio.sleep(max(0.0, self.stop_at - time.monotonic()))
            async with self.changed:
                self.changed.notify_all()

    async def run(
        self,
        pools: Sequence[Sequence[SimulatedSmtpd]],
        listener: OutcomeListener | None = None,
        *feeders: Coroutine[Any, Any, None],
    ) -> None:
        """Run every process of every host's pool (and the ``feeders``) until the work is done."""

        async def serve(process: SimulatedSmtpd, host: int) -> None:
            while (attempt := await self.next(host)) is not None:
                outcome = await process.run_attempt(attempt)
                if listener is not None:
                    listener(outcome)
                await self.done(attempt, outcome)

        waker = asyncio.create_task(self._wake_at_stop())
        try:
            async with asyncio.TaskGroup() as group:
                for feeder in feeders:
                    group.create_task(feeder)
                for host, pool in enumerate(pools):
                    for process in pool:
                        group.create_task(serve(process, host))
        finally:
            for task in (waker, *self._timers):
                task.cancel()
            for task in (waker, *self._timers):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for pool in pools:
                for process in pool:
                    await process.close()
