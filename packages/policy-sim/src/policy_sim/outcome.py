"""What happened to each request of a replay: the records checks and reports read."""

from __future__ import annotations

from dataclasses import dataclass

from policy_sim.trace.model import Expectation, Mail, ScoreProbe

_REJECTING_WORDS = ("reject", "defer", "defer_if_permit")


def rejects_recipient(action: str) -> bool:
    """True when Postfix would refuse the recipient on this action (reject, defer, 4xx, 5xx)."""
    first_line = action.split("\n", 1)[0].strip()
    word = first_line.split(None, 1)[0].lower() if first_line else ""
    return word in _REJECTING_WORDS or (len(word) == 3 and word[0] in "45" and word.isdigit())


@dataclass(frozen=True)
class RequestRecord:
    """One policy request of a replayed mail and its answer."""

    mail_index: int
    stage_index: int
    request_index: int  # recipient number for RCPT, else 0
    state: str
    service: str
    recipient: str
    instance: str
    action: str
    answered: bool
    failures: tuple[str, ...]
    latency: float
    started: float  # seconds since the run began
    expectation: Expectation | None
    score_probe: ScoreProbe | None
    expected_score: float  # the session score after this request, by the trace's increments

    @property
    def matches(self) -> bool:
        """True when the action meets the expectation (or there is none)."""
        return self.expectation is None or self.expectation.matches(self.action)

    @property
    def observed_score(self) -> float | None:
        """The score the action shows, when the stage probes for it."""
        return self.score_probe.extract(self.action) if self.score_probe else None


@dataclass(frozen=True)
class SkippedStage:
    """A stage Postfix would never ask about because every recipient was rejected."""

    mail_index: int
    stage_index: int
    state: str
    service: str
    had_expectation: bool


@dataclass(frozen=True)
class MailOutcome:
    """Every request of one mail, in the order they were sent."""

    index: int
    mail: Mail
    instance: str
    records: tuple[RequestRecord, ...]
    skipped: tuple[SkippedStage, ...] = ()
