"""Delivery attempts across a fleet: which recipients a sending MTA retries, where and when."""

from __future__ import annotations

from policy_sim.endpoint import Endpoint
from policy_sim.fleet import Attempt, FleetHost, as_fleet, deferred_recipients, first_host, retry_of
from policy_sim.outcome import MailOutcome, RequestRecord
from policy_sim.trace import parse_trace

TRACE = """\
version: 2
services: {policy: 127.0.0.1:1}
hosts: {mx-a: 127.0.0.1:2, mx-b: 127.0.0.1:3}
stages: [{state: RCPT}, {state: END-OF-MESSAGE}]
mails:
  - {client_address: 192.0.2.1, recipients: [a@example.org, b@example.org, c@example.org], host: mx-a,
     retries: [{after: 300, host: mx-b}, {after: 900}]}
  - {client_address: 192.0.2.2, recipients: [d@example.org]}
  - {client_address: 192.0.2.3, recipients: [e@example.org]}
"""
FLEET = [
    FleetHost("mx-a", {"policy": Endpoint("127.0.0.1", 2)}),
    FleetHost("mx-b", {"policy": Endpoint("127.0.0.1", 3)}),
]
HOSTS = {"mx-a": 0, "mx-b": 1}


def outcome_of(attempt: Attempt, answers: list[tuple[str, int, str]]) -> MailOutcome:
    """An attempt's outcome from (state, recipient position, action) triples."""
    records = tuple(
        RequestRecord(
            attempt.index, 0, position, state, "policy", "", "i", action, True, (), 0.0, 0.0, None, None, 0.0
        )
        for state, position, action in answers
    )
    return MailOutcome(attempt.index, attempt.mail, "i", records, attempt=attempt.number)


def test_recipients_deferred_at_rcpt_are_retried_and_rejected_ones_are_not() -> None:
    attempt = Attempt(0, parse_trace(TRACE).mails[0], 0)
    outcome = outcome_of(
        attempt,
        [
            ("RCPT", 0, "defer_if_permit greylisted"),
            ("RCPT", 1, "reject no"),
            ("RCPT", 2, "dunno"),
            ("END-OF-MESSAGE", 0, "dunno"),
        ],
    )
    assert deferred_recipients(attempt, outcome) == (0,)


def test_a_deferral_after_rcpt_retries_every_recipient_not_rejected() -> None:
    attempt = Attempt(0, parse_trace(TRACE).mails[0], 0)
    outcome = outcome_of(
        attempt,
        [
            ("RCPT", 0, "dunno"),
            ("RCPT", 1, "550 no"),
            ("RCPT", 2, "450 later"),
            ("END-OF-MESSAGE", 0, "451 4.3.5 Server configuration problem"),
        ],
    )
    assert deferred_recipients(attempt, outcome) == (0, 2)


def test_the_retry_goes_to_its_host_after_its_delay_then_stays_there() -> None:
    mail = parse_trace(TRACE).mails[0]
    first = Attempt(0, mail, 0)
    delay, retry = retry_of(first, outcome_of(first, [("RCPT", 1, "defer greylisted")]), HOSTS) or (0, None)
    assert (delay, retry) == (300, Attempt(0, mail, 1, 1, (1,)))
    assert retry is not None and retry.recipient_positions() == (1,)
    delay, second = retry_of(retry, outcome_of(retry, [("RCPT", 1, "defer again")]), HOSTS) or (0, None)
    assert (delay, second) == (900, Attempt(0, mail, 1, 2, (1,)))  # no host given: where it was


def test_no_retry_without_deferral_or_when_the_retries_are_used_up() -> None:
    mail = parse_trace(TRACE).mails[0]
    accepted = Attempt(0, mail, 0)
    assert retry_of(accepted, outcome_of(accepted, [("RCPT", 0, "dunno")]), HOSTS) is None
    last = Attempt(0, mail, 1, 2, (0,))
    assert retry_of(last, outcome_of(last, [("RCPT", 0, "defer")]), HOSTS) is None
    single = parse_trace(TRACE).mails[1]
    lonely = Attempt(1, single, 0)
    assert retry_of(lonely, outcome_of(lonely, [("RCPT", 0, "defer")]), HOSTS) is None  # the mail has none


def test_mails_without_a_host_are_spread_round_robin() -> None:
    trace = parse_trace(TRACE)
    assert [first_host(trace, index, FLEET) for index in range(3)] == [0, 1, 0]


def test_service_addresses_make_a_fleet_of_one() -> None:
    assert as_fleet({"policy": Endpoint("h", 1)}) == [FleetHost("target", {"policy": Endpoint("h", 1)})]
