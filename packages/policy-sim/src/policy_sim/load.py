"""Load runs: closed loop (fixed concurrency) or open loop (fixed mail arrival rate)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from policy_sim.client import ClientSettings
from policy_sim.endpoint import Endpoint
from policy_sim.outcome import MailOutcome
from policy_sim.replay import SimulatedSmtpd, smtpd_pool
from policy_sim.stats import LatencySummary, RunStats
from policy_sim.trace.model import Trace


@dataclass(frozen=True)
class LoadSettings:
    """How hard and how long to push: ``rate`` None means closed loop."""

    duration: float = 10.0
    concurrency: int = 8
    rate: float | None = None  # mails per second (open loop)
    seed: int = 1
    client: ClientSettings = field(default_factory=ClientSettings)


@dataclass
class LoadResult:
    """The statistics of one target's run, and the open-loop queueing delays."""

    label: str
    target: str
    stats: RunStats
    elapsed: float
    queue_delays: list[float]
    connections_opened: int


async def run_load(
    trace: Trace,
    endpoints: Mapping[str, Endpoint],
    settings: LoadSettings,
    label: str,
    target: str,
    on_progress: Callable[[RunStats, float], None] | None = None,
) -> LoadResult:
    """Drive the target for ``settings.duration`` seconds with the trace's mails, cycled."""
    if not trace.mails:
        raise ValueError("the trace has no mails")
    stats = RunStats()
    started = time.monotonic()
    deadline = started + settings.duration
    processes = smtpd_pool(
        trace, endpoints, max(1, settings.concurrency), settings.client, started, settings.seed
    )
    mails = itertools.cycle(enumerate(trace.mails))
    queue_delays: list[float] = []

    def finished(outcome: MailOutcome) -> None:
        stats.add(outcome)
        if on_progress is not None:
            on_progress(stats, time.monotonic() - started)

    async def closed_loop(process: SimulatedSmtpd) -> None:
        while time.monotonic() < deadline:
            index, mail = next(mails)
            finished(await process.run_mail(index, mail))

    arrivals: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()

    async def open_loop(process: SimulatedSmtpd) -> None:
        while (item := await arrivals.get()) is not None:
            due, index = item
            queue_delays.append(max(0.0, time.monotonic() - due))
            finished(await process.run_mail(index, trace.mails[index]))

    async def arrive(rate: float) -> None:
        rng = random.Random(settings.seed)
        due = started
        while True:
            due += rng.expovariate(rate)  # Poisson arrivals
            if due >= deadline:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            arrivals.put_nowait((due, next(mails)[0]))
        for _ in processes:
            arrivals.put_nowait(None)

    try:
        async with asyncio.TaskGroup() as group:
            worker = closed_loop if settings.rate is None else open_loop
            for process in processes:
                group.create_task(worker(process))
            if settings.rate is not None:
                group.create_task(arrive(settings.rate))
    finally:
        for process in processes:
            await process.close()
    opened = sum(process.client.connections_opened for process in processes)
    return LoadResult(label, target, stats, time.monotonic() - started, queue_delays, opened)


def result_document(result: LoadResult) -> dict[str, object]:
    """One target's section of the JSON report (see docs/policy-sim.md)."""
    stats = result.stats
    elapsed = result.elapsed or 1e-9
    latency = LatencySummary.of(stats.latencies)
    document: dict[str, object] = {
        "label": result.label,
        "target": result.target,
        "elapsed_s": round(result.elapsed, 3),
        "mails": stats.mails,
        "requests": stats.requests,
        "throughput_rps": round(stats.requests / elapsed, 3),
        "mails_per_s": round(stats.mails / elapsed, 3),
        "latency_ms": {
            "p50": latency.p50,
            "p90": latency.p90,
            "p99": latency.p99,
            "max": latency.max,
            "mean": latency.mean,
        },
        "actions": dict(stats.actions.most_common()),
        "errors": {
            "unanswered": stats.unanswered,
            "failed_attempts": stats.failed_attempts,
            "by_kind": dict(stats.errors.most_common()),
        },
        "connections_opened": result.connections_opened,
        "timeline": stats.timeline(),
    }
    if result.queue_delays:
        delay = LatencySummary.of(result.queue_delays)
        document["queue_delay_ms"] = {
            "p50": delay.p50,
            "p90": delay.p90,
            "p99": delay.p99,
            "max": delay.max,
            "mean": delay.mean,
        }
    return document
