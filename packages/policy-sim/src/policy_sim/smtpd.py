"""A simulated Postfix smtpd process: one delivery attempt at a time, its stages in order."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from policy_sim.client import ClientSettings, SmtpdClient
from policy_sim.endpoint import Endpoint
from policy_sim.fleet import Attempt, FleetHost
from policy_sim.instance import SmtpdIdentity
from policy_sim.outcome import MailOutcome, RequestRecord, SkippedStage, rejects_recipient
from policy_sim.trace.model import Stage, Trace
from policy_sim.trace.requests import Transaction, postfix_attributes


@dataclass(frozen=True)
class _Asking:
    """What one request is about: the attempt, the stage and the recipient (RCPT) asked."""

    attempt: Attempt
    stage_index: int
    stage: Stage
    position: int  # the recipient's position in the mail (RCPT), else 0
    recipient: str


class SimulatedSmtpd:
    """One smtpd process of one host: handles one attempt at a time, all its stages in order."""

    def __init__(
        self,
        trace: Trace,
        host: FleetHost,
        pid: int,
        settings: ClientSettings,
        clock_start: float,
        seed: int | None = None,
    ) -> None:
        self.trace = trace
        self.host = host
        self.identity = SmtpdIdentity(pid, random.Random(seed))
        self.client = SmtpdClient(settings)
        self.clock_start = clock_start

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """Where this host's services listen."""
        return self.host.endpoints

    async def run_attempt(self, attempt: Attempt) -> MailOutcome:
        """Ask every stage of the attempt; skip the after-RCPT stages when no recipient got through."""
        mail = attempt.mail
        queue_delay = None if attempt.ready_at is None else max(0.0, time.monotonic() - attempt.ready_at)
        positions = attempt.recipient_positions()
        # a retry is a new SMTP transaction: a new instance, even when the mail fixes its first one
        transaction = Transaction(
            (mail.instance if attempt.number == 0 else "") or self.identity.next_instance()
        )
        stages = attempt.stages
        has_rcpt_stage = any(stage.state == "RCPT" for stage in stages)
        if not has_rcpt_stage:
            offered = tuple(mail.recipients[position] for position in positions)
            transaction = Transaction(transaction.instance, self.identity.next_queue_id(), offered)
        records: list[RequestRecord] = []
        skipped: list[SkippedStage] = []
        score = 0.0
        for stage_index, stage in enumerate(stages):
            if stage.state in ("DATA", "END-OF-MESSAGE") and has_rcpt_stage and not transaction.accepted:
                expected = bool(stage.expect) or stage.expect_score is not None
                skipped.append(SkippedStage(attempt.index, stage_index, stage.state, stage.service, expected))
                continue
            asked = [(p, mail.recipients[p]) for p in positions] if stage.state == "RCPT" else [(0, "")]
            for position, recipient in asked:
                score += stage.score
                record = await self._ask(
                    _Asking(attempt, stage_index, stage, position, recipient), transaction, score
                )
                records.append(record)
                if stage.state == "RCPT" and not rejects_recipient(record.action):
                    transaction = Transaction(
                        transaction.instance,
                        transaction.queue_id or self.identity.next_queue_id(),
                        (*transaction.accepted, recipient),
                    )
        return MailOutcome(
            attempt.index,
            mail,
            transaction.instance,
            tuple(records),
            tuple(skipped),
            self.host.label,
            attempt.number,
            queue_delay,
            stages,
        )

    async def _ask(self, asking: _Asking, transaction: Transaction, expected_score: float) -> RequestRecord:
        stage = asking.stage
        attributes = postfix_attributes(self.trace, asking.attempt.mail, stage, asking.recipient, transaction)
        started = time.monotonic() - self.clock_start
        exchange = await self.client.ask(self.endpoints[stage.service], attributes)
        return RequestRecord(
            mail_index=asking.attempt.index,
            stage_index=asking.stage_index,
            request_index=asking.position,
            state=stage.state,
            service=stage.service,
            recipient=asking.recipient,
            instance=transaction.instance,
            action=exchange.action,
            answered=exchange.answered,
            failures=exchange.failures,
            latency=exchange.latency,
            started=started,
            expectation=stage.expectation_for(asking.position),
            score_probe=stage.expect_score,
            expected_score=expected_score,
            host=self.host.label,
            attempt=asking.attempt.number,
        )

    async def close(self) -> None:
        """Close the process's policy connections."""
        await self.client.close()


def smtpd_pool(
    trace: Trace,
    host: FleetHost,
    concurrency: int,
    settings: ClientSettings,
    clock_start: float,
    seed: int | None = None,
    host_number: int = 0,
) -> list[SimulatedSmtpd]:
    """``concurrency`` simulated smtpd processes of one host, with pids distinct across the fleet."""
    base_pid = random.Random(seed).randrange(0x400, 0x7000) + host_number * concurrency
    return [
        SimulatedSmtpd(
            trace,
            host,
            base_pid + number,
            settings,
            clock_start,
            None if seed is None else seed + host_number * concurrency + number,
        )
        for number in range(concurrency)
    ]
