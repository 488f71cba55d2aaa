"""Latency percentiles, action counts and per-second timelines of a run."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from policy_sim.outcome import MailOutcome


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Latency figures in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        """Summarise latencies given in seconds."""
        ordered = sorted(seconds)
        mean = sum(ordered) / len(ordered) if ordered else 0.0
        return cls(
            *(
                round(value * 1000, 3)
                for value in (
                    percentile(ordered, 0.50),
                    percentile(ordered, 0.90),
                    percentile(ordered, 0.99),
                    ordered[-1] if ordered else 0.0,
                    mean,
                )
            )
        )


def action_word(action: str) -> str:
    """The verb of an action (``reject``, ``dunno``, ``prepend``, ``554``), lower-cased."""
    words = action.split(None, 1)
    return words[0].lower() if words else "(empty)"


@dataclass
class _Second:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass
class RunStats:
    """Accumulates finished mails into the figures of a report."""

    requests: int = 0
    mails: int = 0  # first delivery attempts
    retries: int = 0  # later attempts of deferred mails
    unanswered: int = 0
    failed_attempts: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: dict[int, _Second] = field(default_factory=dict)

    def add(self, outcome: MailOutcome) -> None:
        """Count every request of a finished attempt."""
        if outcome.attempt:
            self.retries += 1
        else:
            self.mails += 1
        for record in outcome.records:
            self.requests += 1
            self.latencies.append(record.latency)
            self.actions[action_word(record.action)] += 1
            second = self.seconds.setdefault(int(record.started + record.latency), _Second())
            second.requests += 1
            second.latencies.append(record.latency)
            self.failed_attempts += len(record.failures)
            for failure in record.failures:
                self.errors[failure.split(": ", 1)[-1]] += 1
            if not record.answered:
                self.unanswered += 1
                second.errors += 1

    def timeline(self, elapsed: float | None = None) -> list[dict[str, float]]:
        """Per second of the run: requests, errors, latency p50/p99/max in ms, and ``span_s``, the
        part of that second the run lasted (below 1 for the last one when ``elapsed`` is given)."""
        rows = []
        for index in range(max(self.seconds, default=-1) + 1):
            second = self.seconds.get(index, _Second())
            latency = LatencySummary.of(second.latencies)
            span = 1.0 if elapsed is None else round(min(1.0, max(0.001, elapsed - index)), 3)
            rows.append(
                {
                    "t": index,
                    "span_s": span,
                    "requests": second.requests,
                    "errors": second.errors,
                    "p50_ms": latency.p50,
                    "p99_ms": latency.p99,
                    "max_ms": latency.max,
                }
            )
        return rows
