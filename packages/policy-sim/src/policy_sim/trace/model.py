"""The trace model: services, mails and the stages Postfix asks a policy service about."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_sim.endpoint import Endpoint

#: Protocol states Postfix reports in ``protocol_state``.
PROTOCOL_STATES = ("CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "VRFY", "ETRN")

#: Pulls the score out of an action like ``dunno score=7``; group ``score`` or group 1 is used.
DEFAULT_SCORE_PATTERN = r"score=(?P<score>-?[0-9]+(?:\.[0-9]+)?)"


@dataclass(frozen=True)
class Position:
    """Where something was written: file, 1-based line and column (None when unknown)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Expectation:
    """The action a request should get: exact text, or a regex searched in the action."""

    text: str
    is_regex: bool = False

    def matches(self, action: str) -> bool:
        """True when ``action`` satisfies this expectation."""
        if self.is_regex:
            return re.search(self.text, action) is not None
        return action == self.text

    def __str__(self) -> str:
        return f"/{self.text}/" if self.is_regex else repr(self.text)


@dataclass(frozen=True)
class ScoreProbe:
    """How to read the session score from an action (``expect_score`` on a stage)."""

    pattern: str = DEFAULT_SCORE_PATTERN

    def extract(self, action: str) -> float | None:
        """The score the action shows, or None when the pattern does not match."""
        found = re.search(self.pattern, action)
        if found is None:
            return None
        text = found.group("score") if "score" in found.re.groupindex else found.group(1)
        try:
            return float(text)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Service:
    """A named policy service (a vhost of the daemon) and where it listens."""

    name: str
    endpoint: Endpoint | None
    policy_context: str = ""


@dataclass(frozen=True)
class Stage:
    """One protocol state Postfix asks ``service`` about; RCPT means once per recipient.

    ``expect`` holds one expectation per request of the stage (per recipient for
    RCPT); ``score`` is the increment each request adds to the session score;
    ``expect_score`` reads the score the mail has reached from the action.
    """

    state: str
    service: str
    expect: tuple[Expectation | None, ...] = ()
    score: float = 0.0
    expect_score: ScoreProbe | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    position: Position | None = None

    def expectation_for(self, index: int) -> Expectation | None:
        """The expectation of this stage's ``index``-th request (one for all when given once)."""
        if not self.expect:
            return None
        if len(self.expect) == 1:
            return self.expect[0]
        return self.expect[index]


@dataclass(frozen=True)
class Host:
    """A member of a fleet (an MX host with its own policy daemon) and where its services listen.

    ``address`` serves every service; ``services`` gives addresses per service. Both empty: the
    address comes at run time (``--target NAME=…`` or ``--spawn``).
    """

    name: str
    address: Endpoint | None = None
    services: tuple[tuple[str, Endpoint], ...] = ()
    position: Position | None = None


@dataclass(frozen=True)
class Retry:
    """A later attempt of a deferred mail, like a sending MTA's: ``after`` seconds, on ``host``.

    Only recipients that got a temporary answer (``defer``, 4xx, Postfix's default action) are
    retried. ``host`` empty: the host of the attempt before; ``stages`` empty: the mail's stages.
    """

    after: float = 0.0
    host: str = ""
    stages: tuple[Stage, ...] = ()
    position: Position | None = None


@dataclass(frozen=True)
class Mail:
    """One mail transaction: the SMTP client, the envelope and the stages asked about."""

    client_address: str
    client_name: str
    reverse_client_name: str
    helo: str
    sender: str
    recipients: tuple[str, ...]
    stages: tuple[Stage, ...]
    sasl_username: str = ""
    sasl_method: str = ""
    sasl_sender: str = ""
    size: int = 0
    protocol_name: str = "ESMTP"
    instance: str = ""
    id: str = ""
    attributes: tuple[tuple[str, str], ...] = ()
    position: Position | None = None
    host: str = ""  # the fleet host of the first attempt; empty: spread round robin
    retries: tuple[Retry, ...] = ()

    def request_count(self) -> int:
        """How many policy requests the mail makes when every recipient is accepted."""
        return sum(len(self.recipients) if stage.state == "RCPT" else 1 for stage in self.stages)


@dataclass(frozen=True)
class Trace:
    """A whole scenario: named services, the fleet's hosts (if any) and mails in arrival order."""

    services: dict[str, Service]
    mails: tuple[Mail, ...]
    source: str = "<memory>"
    server_address: str = "127.0.0.1"
    server_port: str = "25"
    hosts: dict[str, Host] = field(default_factory=dict)  # a fleet; empty: one daemon

    def service_names(self) -> set[str]:
        """The services the mails' stages (and their retries' stages) ask."""
        return {
            stage.service
            for mail in self.mails
            for stages in (mail.stages, *(retry.stages for retry in mail.retries))
            for stage in stages
        }

    def request_count(self) -> int:
        """How many policy requests the whole trace makes at most."""
        return sum(mail.request_count() for mail in self.mails)
