"""Replay a trace against policy services the way Postfix's smtpd processes would."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from policy_sim.client import ClientSettings, SmtpdClient
from policy_sim.endpoint import Endpoint
from policy_sim.instance import SmtpdIdentity
from policy_sim.outcome import MailOutcome, RequestRecord, SkippedStage, rejects_recipient
from policy_sim.trace.model import Mail, Stage, Trace
from policy_sim.trace.requests import Transaction, postfix_attributes

#: Called with every finished mail (progress display, statistics).
MailListener = Callable[[MailOutcome], None]


class SimulatedSmtpd:
    """One smtpd process: handles one mail at a time, all its stages in order, on its connections."""

    def __init__(
        self,
        trace: Trace,
        endpoints: Mapping[str, Endpoint],
        pid: int,
        settings: ClientSettings,
        clock_start: float,
        seed: int | None = None,
    ) -> None:
        self.trace = trace
        self.endpoints = endpoints
        self.identity = SmtpdIdentity(pid, random.Random(seed))
        self.client = SmtpdClient(settings)
        self.clock_start = clock_start

    async def run_mail(self, index: int, mail: Mail) -> MailOutcome:
        """Ask every stage of ``mail``; skip the after-RCPT stages when no recipient got through."""
        transaction = Transaction(mail.instance or self.identity.next_instance())
        has_rcpt_stage = any(stage.state == "RCPT" for stage in mail.stages)
        if not has_rcpt_stage:
            transaction = Transaction(transaction.instance, self.identity.next_queue_id(), mail.recipients)
        records: list[RequestRecord] = []
        skipped: list[SkippedStage] = []
        score = 0.0
        for stage_index, stage in enumerate(mail.stages):
            if stage.state in ("DATA", "END-OF-MESSAGE") and has_rcpt_stage and not transaction.accepted:
                skipped.append(
                    SkippedStage(
                        index,
                        stage_index,
                        stage.state,
                        stage.service,
                        bool(stage.expect) or stage.expect_score is not None,
                    )
                )
                continue
            recipients = mail.recipients if stage.state == "RCPT" else ("",)
            for request_index, recipient in enumerate(recipients):
                score += stage.score
                record = await self._ask(
                    index, mail, stage_index, stage, request_index, recipient, transaction, score
                )
                records.append(record)
                if stage.state == "RCPT" and not rejects_recipient(record.action):
                    transaction = Transaction(
                        transaction.instance,
                        transaction.queue_id or self.identity.next_queue_id(),
                        (*transaction.accepted, recipient),
                    )
        return MailOutcome(index, mail, transaction.instance, tuple(records), tuple(skipped))

    async def _ask(
        self,
        index: int,
        mail: Mail,
        stage_index: int,
        stage: Stage,
        request_index: int,
        recipient: str,
        transaction: Transaction,
        expected_score: float,
    ) -> RequestRecord:
        attributes = postfix_attributes(self.trace, mail, stage, recipient, transaction)
        started = time.monotonic() - self.clock_start
        exchange = await self.client.ask(self.endpoints[stage.service], attributes)
        return RequestRecord(
            mail_index=index,
            stage_index=stage_index,
            request_index=request_index,
            state=stage.state,
            service=stage.service,
            recipient=recipient,
            instance=transaction.instance,
            action=exchange.action,
            answered=exchange.answered,
            failures=exchange.failures,
            latency=exchange.latency,
            started=started,
            expectation=stage.expectation_for(request_index),
            score_probe=stage.expect_score,
            expected_score=expected_score,
        )

    async def close(self) -> None:
        """Close the process's policy connections."""
        await self.client.close()


@dataclass(frozen=True)
class ReplayResult:
    """Every mail's outcome (in trace order) and how long the replay took."""

    outcomes: tuple[MailOutcome, ...]
    elapsed: float
    connections_opened: int

    @property
    def request_count(self) -> int:
        """How many requests were sent."""
        return sum(len(outcome.records) for outcome in self.outcomes)


def smtpd_pool(
    trace: Trace,
    endpoints: Mapping[str, Endpoint],
    concurrency: int,
    settings: ClientSettings,
    clock_start: float,
    seed: int | None = None,
) -> list[SimulatedSmtpd]:
    """``concurrency`` simulated smtpd processes with distinct pids."""
    base_pid = random.Random(seed).randrange(0x400, 0x7000)
    return [
        SimulatedSmtpd(
            trace,
            endpoints,
            base_pid + number,
            settings,
            clock_start,
            None if seed is None else seed + number,
        )
        for number in range(concurrency)
    ]


async def replay(
    trace: Trace,
    endpoints: Mapping[str, Endpoint],
    concurrency: int = 1,
    settings: ClientSettings | None = None,
    listener: MailListener | None = None,
    seed: int | None = None,
) -> ReplayResult:
    """Send every mail of ``trace`` once; up to ``concurrency`` smtpd processes work in parallel."""
    started = time.monotonic()
    processes = smtpd_pool(trace, endpoints, max(1, concurrency), settings or ClientSettings(), started, seed)
    outcomes: list[MailOutcome | None] = [None] * len(trace.mails)
    queue = iter(enumerate(trace.mails))

    async def work(process: SimulatedSmtpd) -> None:
        for index, mail in queue:  # a shared iterator: each process takes the next waiting mail
            outcome = await process.run_mail(index, mail)
            outcomes[index] = outcome
            if listener is not None:
                listener(outcome)

    try:
        async with asyncio.TaskGroup() as group:
            for process in processes:
                group.create_task(work(process))
    finally:
        for process in processes:
            await process.close()
    opened = sum(process.client.connections_opened for process in processes)
    done = tuple(outcome for outcome in outcomes if outcome is not None)
    return ReplayResult(done, time.monotonic() - started, opened)
