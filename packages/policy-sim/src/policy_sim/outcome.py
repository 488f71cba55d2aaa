"""What happened to each request of a replay: the records checks and reports read."""

from __future__ import annotations

from dataclasses import dataclass

from policy_sim.trace.model import Expectation, Mail, ScoreProbe, Stage

_DEFERRING_WORDS = ("defer", "defer_if_permit")


def _verb(action: str) -> str:
    first_line = action.split("\n", 1)[0].strip()
    return first_line.split(None, 1)[0].lower() if first_line else ""


def defers_recipient(action: str) -> bool:
    """True when the answer is a temporary refusal a sending MTA retries later (defer, 4xx)."""
    word = _verb(action)
    return word in _DEFERRING_WORDS or (len(word) == 3 and word[0] == "4" and word.isdigit())


def rejects_recipient(action: str) -> bool:
    """True when Postfix would refuse the recipient on this action (reject, defer, 4xx, 5xx)."""
    word = _verb(action)
    return (
        word == "reject" or (len(word) == 3 and word[0] == "5" and word.isdigit()) or defers_recipient(action)
    )


@dataclass(frozen=True)
class RequestRecord:
    """One policy request of a replayed mail and its answer."""

    mail_index: int
    stage_index: int
    request_index: int  # the recipient's position in the mail for RCPT, else 0
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
    host: str = ""  # the fleet host asked
    attempt: int = 0  # 0: the first delivery attempt, 1…: retries

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
    """Every request of one delivery attempt of a mail, in the order they were sent."""

    index: int
    mail: Mail
    instance: str
    records: tuple[RequestRecord, ...]
    skipped: tuple[SkippedStage, ...] = ()
    host: str = ""  # the fleet host that got this attempt
    attempt: int = 0  # 0: the first delivery attempt, 1…: retries
    queue_delay: float | None = None  # open loop: seconds the attempt waited for a free process
    stages: tuple[Stage, ...] = ()  # the stages asked (a retry's own); empty: the mail's

    @property
    def asked_stages(self) -> tuple[Stage, ...]:
        """The stages this attempt asked about."""
        return self.stages or self.mail.stages
