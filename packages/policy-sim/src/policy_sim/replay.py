"""Replay a trace against policy services the way Postfix's smtpd processes would, on one host or a fleet."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy_sim.client import ClientSettings
from policy_sim.dispatch import Dispatcher, OutcomeListener
from policy_sim.endpoint import Endpoint
from policy_sim.fleet import Attempt, FleetHost, as_fleet, first_host
from policy_sim.outcome import MailOutcome
from policy_sim.smtpd import SimulatedSmtpd, smtpd_pool
from policy_sim.trace.model import Trace


@dataclass(frozen=True)
class ReplayResult:
    """Every attempt's outcome (in trace order, retries after their mail) and how long it took."""

    outcomes: tuple[MailOutcome, ...]
    elapsed: float
    connections_opened: int

    @property
    def request_count(self) -> int:
        """How many requests were sent."""
        return sum(len(outcome.records) for outcome in self.outcomes)


def fleet_pools(
    trace: Trace,
    fleet: Sequence[FleetHost],
    concurrency: int,
    settings: ClientSettings,
    clock_start: float,
    seed: int | None,
) -> list[list[SimulatedSmtpd]]:
    """``concurrency`` simulated smtpd processes for every host of the fleet."""
    return [
        smtpd_pool(trace, host, max(1, concurrency), settings, clock_start, seed, number)
        for number, host in enumerate(fleet)
    ]


def connections_opened(pools: Sequence[Sequence[SimulatedSmtpd]]) -> int:
    """TCP connections the processes of ``pools`` opened."""
    return sum(process.client.connections_opened for pool in pools for process in pool)


async def replay(
    trace: Trace,
    fleet: Sequence[FleetHost] | Mapping[str, Endpoint],
    concurrency: int = 1,
    settings: ClientSettings | None = None,
    listener: OutcomeListener | None = None,
    seed: int | None = None,
) -> ReplayResult:
    """Send every mail of ``trace`` once (and its retries when deferred); ``concurrency`` smtpd
    processes per host work in parallel, each taking the next waiting mail of its host.

    ``fleet`` may be one host's service addresses.
    """
    fleet = as_fleet(fleet)
    started = time.monotonic()
    pools = fleet_pools(trace, fleet, concurrency, settings or ClientSettings(), started, seed)
    dispatcher = Dispatcher([host.label for host in fleet])
    for index, mail in enumerate(trace.mails):
        dispatcher.offer(Attempt(index, mail, first_host(trace, index, fleet)))
    outcomes: list[MailOutcome] = []

    def collect(outcome: MailOutcome) -> None:
        outcomes.append(outcome)
        if listener is not None:
            listener(outcome)

    await dispatcher.run(pools, collect)
    outcomes.sort(key=lambda outcome: (outcome.index, outcome.attempt))
    return ReplayResult(tuple(outcomes), time.monotonic() - started, connections_opened(pools))
