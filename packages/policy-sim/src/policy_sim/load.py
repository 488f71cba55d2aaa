"""Load runs: closed loop (fixed concurrency) or open loop (fixed arrival rate), on one host or a fleet."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from policy_sim.client import ClientSettings
from policy_sim.dispatch import Dispatcher
from policy_sim.fleet import Attempt, FleetHost, first_host
from policy_sim.outcome import MailOutcome
from policy_sim.replay import connections_opened, fleet_pools
from policy_sim.stats import LatencySummary, RunStats
from policy_sim.trace.model import Trace


@dataclass(frozen=True)
class LoadSettings:
    """How hard and how long to push: ``rate`` None means closed loop; ``concurrency`` is per host."""

    duration: float = 10.0
    concurrency: int = 8
    rate: float | None = None  # mails per second (open loop)
    seed: int = 1
    client: ClientSettings = field(default_factory=ClientSettings)


@dataclass
class HostResult:
    """One host's share of a run."""

    label: str
    target: str
    stats: RunStats
    connections_opened: int = 0


@dataclass
class LoadResult:
    """A run's statistics in total and per host, and the open-loop queueing delays."""

    label: str
    target: str
    stats: RunStats
    elapsed: float
    queue_delays: list[float]
    connections_opened: int
    hosts: list[HostResult] = field(default_factory=list)


def _mails_of_hosts(trace: Trace, fleet: Sequence[FleetHost]) -> list[list[int]]:
    """The positions of the mails whose first attempt goes to each host."""
    shares: list[list[int]] = [[] for _ in fleet]
    for index in range(len(trace.mails)):
        shares[first_host(trace, index, fleet)].append(index)
    return shares


async def run_load(
    trace: Trace,
    fleet: Sequence[FleetHost],
    settings: LoadSettings,
    label: str,
    on_progress: Callable[[RunStats, float], None] | None = None,
) -> LoadResult:
    """Drive every host for ``settings.duration`` seconds with the trace's mails, cycled."""
    if not trace.mails:
        raise ValueError("the trace has no mails")
    started = time.monotonic()
    deadline = started + settings.duration
    pools = fleet_pools(trace, fleet, settings.concurrency, settings.client, started, settings.seed)
    stats = RunStats()
    hosts = [HostResult(host.label, host.describe(), RunStats()) for host in fleet]
    by_label = {host.label: host for host in hosts}
    queue_delays: list[float] = []

    def finished(outcome: MailOutcome) -> None:
        stats.add(outcome)
        by_label[outcome.host].stats.add(outcome)
        if outcome.queue_delay is not None:
            queue_delays.append(outcome.queue_delay)
        if on_progress is not None:
            on_progress(stats, time.monotonic() - started)

    names = [host.label for host in fleet]
    if settings.rate is None:
        cycles: list[Iterator[int] | None] = [
            itertools.cycle(share) if share else None for share in _mails_of_hosts(trace, fleet)
        ]

        def supply(host: int) -> Attempt | None:
            cycle = cycles[host]
            if cycle is None:
                return None
            index = next(cycle)
            return Attempt(index, trace.mails[index], host)

        dispatcher = Dispatcher(names, supply, stop_at=deadline, retries_until=deadline)
        await dispatcher.run(pools, finished)
    else:
        dispatcher = Dispatcher(names, retries_until=deadline, arrivals=True)
        await dispatcher.run(
            pools, finished, _arrivals(trace, fleet, dispatcher, settings, started, deadline)
        )
    for host, pool in zip(hosts, pools, strict=True):
        host.connections_opened = connections_opened([pool])
    elapsed = time.monotonic() - started
    return LoadResult(
        label, describe_fleet(fleet), stats, elapsed, queue_delays, connections_opened(pools), hosts
    )


async def _arrivals(
    trace: Trace,
    fleet: Sequence[FleetHost],
    dispatcher: Dispatcher,
    settings: LoadSettings,
    started: float,
    deadline: float,
) -> None:
    """Open loop: Poisson arrivals of the trace's mails, cycled, each on its host, until the deadline."""
    assert settings.rate is not None
    rng = random.Random(settings.seed)
    mails = itertools.cycle(range(len(trace.mails)))
    due = started
    while True:
        due += rng.expovariate(settings.rate)
        if due >= deadline:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        index = next(mails)
        await dispatcher.arrive(
            Attempt(index, trace.mails[index], first_host(trace, index, fleet), ready_at=due)
        )
    await dispatcher.close_arrivals()


def describe_fleet(fleet: Sequence[FleetHost]) -> str:
    """``service=host:port,…`` for one host; ``label: …; label: …`` for a fleet."""
    if len(fleet) == 1:
        return fleet[0].describe()
    return "; ".join(f"{host.label}: {host.describe()}" for host in fleet)


def figures(stats: RunStats, elapsed: float, connections: int) -> dict[str, object]:
    """Volume, latency, actions, errors and timeline of a run or one host's share of it."""
    seconds = elapsed or 1e-9
    return {
        "mails": stats.mails,
        "retries": stats.retries,
        "requests": stats.requests,
        "throughput_rps": round(stats.requests / seconds, 3),
        "mails_per_s": round(stats.mails / seconds, 3),
        "latency_ms": latency_document(stats.latencies),
        "actions": dict(stats.actions.most_common()),
        "errors": {
            "unanswered": stats.unanswered,
            "failed_attempts": stats.failed_attempts,
            "by_kind": dict(stats.errors.most_common()),
        },
        "connections_opened": connections,
        "timeline": stats.timeline(elapsed),
    }


def latency_document(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean in milliseconds."""
    summary = LatencySummary.of(seconds)
    return {
        "p50": summary.p50,
        "p90": summary.p90,
        "p99": summary.p99,
        "max": summary.max,
        "mean": summary.mean,
    }


def result_document(result: LoadResult) -> dict[str, object]:
    """One run's section of the JSON report (see docs/policy-sim.md): totals, then per host."""
    document: dict[str, object] = {
        "label": result.label,
        "target": result.target,
        "elapsed_s": round(result.elapsed, 3),
        **figures(result.stats, result.elapsed, result.connections_opened),
        "targets": [
            {
                "label": host.label,
                "target": host.target,
                **figures(host.stats, result.elapsed, host.connections_opened),
            }
            for host in result.hosts
        ],
    }
    if result.queue_delays:
        document["queue_delay_ms"] = latency_document(result.queue_delays)
    return document
