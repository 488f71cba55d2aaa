"""A fleet of policy hosts and a mail's delivery attempts across it: the first, then its retries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy_sim.endpoint import Endpoint
from policy_sim.outcome import MailOutcome, defers_recipient, rejects_recipient
from policy_sim.trace.model import Mail, Stage, Trace

#: The label of the only host of a run that is not a fleet.
SINGLE_HOST = "target"


@dataclass(frozen=True)
class FleetHost:
    """One daemon to drive: its label and the address of every service the trace asks."""

    label: str
    endpoints: Mapping[str, Endpoint]

    def describe(self) -> str:
        """``service=host:port,…``."""
        return ",".join(f"{name}={address}" for name, address in self.endpoints.items())


def as_fleet(hosts: Sequence[FleetHost] | Mapping[str, Endpoint]) -> list[FleetHost]:
    """A fleet, given as one: or one host's service addresses, as a fleet of that one host."""
    if isinstance(hosts, Mapping):
        return [FleetHost(SINGLE_HOST, hosts)]
    return list(hosts)


@dataclass(frozen=True)
class Attempt:
    """One SMTP transaction of a mail on one host of the fleet.

    ``number`` 0 is the first delivery, n the mail's n-th retry; ``recipients`` are positions in
    ``mail.recipients`` (None: all); ``ready_at`` is when it could start (monotonic seconds).
    """

    index: int
    mail: Mail
    host: int
    number: int = 0
    recipients: tuple[int, ...] | None = None
    ready_at: float | None = None

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages asked: the retry's own, or the mail's."""
        if self.number and self.mail.retries[self.number - 1].stages:
            return self.mail.retries[self.number - 1].stages
        return self.mail.stages

    def recipient_positions(self) -> tuple[int, ...]:
        """Positions in ``mail.recipients`` of the recipients this attempt offers."""
        return tuple(range(len(self.mail.recipients))) if self.recipients is None else self.recipients


def first_host(trace: Trace, index: int, fleet: Sequence[FleetHost]) -> int:
    """The host of a mail's first attempt: its ``host``, else round robin by position in the trace."""
    mail = trace.mails[index]
    if mail.host:
        return [host.label for host in fleet].index(mail.host)
    return index % len(fleet)


def deferred_recipients(attempt: Attempt, outcome: MailOutcome) -> tuple[int, ...]:
    """Positions of the recipients a sending MTA retries: those deferred at RCPT, and every one not
    rejected outright when a later stage (DATA, END-OF-MESSAGE…) deferred the whole mail."""
    deferred: set[int] = set()
    refused: set[int] = set()
    whole_mail = False
    for record in outcome.records:
        if record.state == "RCPT":
            if defers_recipient(record.action):
                deferred.add(record.request_index)
            elif rejects_recipient(record.action):
                refused.add(record.request_index)
        elif defers_recipient(record.action):
            whole_mail = True
    offered = {record.request_index for record in outcome.records if record.state == "RCPT"}
    if whole_mail:
        everyone = offered or set(attempt.recipient_positions())
        deferred |= everyone - refused
    return tuple(sorted(deferred))


def retry_of(
    attempt: Attempt, outcome: MailOutcome, hosts: Mapping[str, int]
) -> tuple[float, Attempt] | None:
    """The next attempt of a deferred mail and its delay in seconds; None when nothing is left to try."""
    if attempt.number >= len(attempt.mail.retries):
        return None
    deferred = deferred_recipients(attempt, outcome)
    if not deferred:
        return None
    retry = attempt.mail.retries[attempt.number]
    host = hosts[retry.host] if retry.host else attempt.host
    return retry.after, Attempt(attempt.index, attempt.mail, host, attempt.number + 1, deferred)
