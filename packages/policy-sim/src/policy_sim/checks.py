"""Compare a replay with its trace: expected actions, the score invariant, clean connections."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from policy_sim.fleet import SINGLE_HOST
from policy_sim.outcome import MailOutcome, RequestRecord
from policy_sim.trace.model import Mail

SCORE_TOLERANCE = 1e-6

#: Daemon log lines that mean a session lock was not had (our daemon's and the Perl original's wording).
LOCK_FAILURE_PATTERN = r"could not acquire lock|session cache failed|lock.*timed? ?out"


@dataclass(frozen=True)
class Finding:
    """One thing that went wrong, with enough to find it in the trace."""

    kind: str  # action-mismatch, score-mismatch, not-reached, unanswered, connection-error, lock-failure
    where: str
    expected: str
    got: str

    def as_diff(self) -> str:
        """A diff-like block: where, then ``- expected`` and ``+ got``."""
        return f"{self.kind}: {self.where}\n  - expected: {self.expected}\n  + got:      {self.got}"


@dataclass
class CheckReport:
    """Findings of one replay, and counts for the summary line."""

    findings: list[Finding] = field(default_factory=list)
    requests: int = 0
    mails: int = 0
    retries: int = 0
    expectations_checked: int = 0
    scores_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing went wrong."""
        return not self.findings

    def counts(self) -> dict[str, int]:
        """How many findings of each kind."""
        totals: dict[str, int] = {}
        for finding in self.findings:
            totals[finding.kind] = totals.get(finding.kind, 0) + 1
        return totals

    def summary(self) -> str:
        """One line: what was checked and what failed."""
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.counts().items())) or "no problems"
        retries = f", {self.retries} retries" if self.retries else ""
        return (
            f"{self.mails} mails{retries}, {self.requests} requests, {self.expectations_checked} expected "
            f"actions, {self.scores_checked} scores checked: {kinds}"
        )


def _where(mail: Mail, outcome: MailOutcome, record: RequestRecord) -> str:
    stage = outcome.asked_stages[record.stage_index]
    position = f"{stage.position} " if stage.position else ""
    mail_name = f"mail {outcome.index + 1}" + (f" ({mail.id})" if mail.id else "")
    if outcome.attempt:
        mail_name += f" retry {outcome.attempt}"
    target = f" <{record.recipient}>" if record.state == "RCPT" else ""
    number = f" #{record.request_index + 1}" if record.state == "RCPT" else ""
    host = f" at {record.host}" if record.host and record.host != SINGLE_HOST else ""
    return (
        f"{position}{mail_name} {record.state}{number}{target} on {record.service}{host} "
        f"instance={record.instance}"
    )


def check_outcomes(outcomes: Iterable[MailOutcome], invariants: bool = False) -> CheckReport:
    """Compare every request with its expectation and score; an unanswered request is always a finding;
    with ``invariants`` so is every failed attempt."""
    report = CheckReport()
    for outcome in outcomes:
        if outcome.attempt:
            report.retries += 1
        else:
            report.mails += 1
        mail = outcome.mail
        for skipped in outcome.skipped:
            if skipped.had_expectation:
                report.findings.append(
                    Finding(
                        "not-reached",
                        f"mail {outcome.index + 1} {skipped.state} on {skipped.service}"
                        + (f" (retry {outcome.attempt})" if outcome.attempt else ""),
                        "the stage to be asked",
                        "every recipient was rejected, so Postfix would not ask",
                    )
                )
        for record in outcome.records:
            report.requests += 1
            where = _where(mail, outcome, record)
            if record.expectation is not None:
                report.expectations_checked += 1
                if not record.matches:
                    report.findings.append(
                        Finding("action-mismatch", where, str(record.expectation), repr(record.action))
                    )
            if record.score_probe is not None:
                report.scores_checked += 1
                observed = record.observed_score
                if observed is None or abs(observed - record.expected_score) > SCORE_TOLERANCE:
                    shown = "no score in the action" if observed is None else f"{observed:g}"
                    report.findings.append(
                        Finding(
                            "score-mismatch",
                            where,
                            f"{record.expected_score:g}",
                            f"{shown} (action {record.action!r})",
                        )
                    )
            report.findings.extend(_connection_findings(where, record, invariants))
    return report


def _connection_findings(where: str, record: RequestRecord, invariants: bool) -> list[Finding]:
    """Unanswered requests always; with ``invariants`` also every failed attempt, even if retried."""
    findings = []
    if invariants:
        findings += [
            Finding("connection-error", where, "an answer on the first try", failure)
            for failure in record.failures
        ]
    if not record.answered:
        last_failure = record.failures[-1] if record.failures else "no answer"
        findings.append(
            Finding("unanswered", where, "an answer", f"{last_failure}; Postfix would use {record.action!r}")
        )
    return findings


def lock_failures(log_file: Path, pattern: str = LOCK_FAILURE_PATTERN) -> list[Finding]:
    """Lines of a daemon log that report a session lock failure."""
    matcher = re.compile(pattern, re.IGNORECASE)
    findings = []
    with log_file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if matcher.search(line):
                findings.append(
                    Finding("lock-failure", f"{log_file}:{number}", "no lock failure", line.rstrip())
                )
    return findings
