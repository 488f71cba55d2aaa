"""Replay against the in-process fake: Postfix's attributes, connection reuse, order, checks."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from conftest import FakeBehaviour, FakePolicyServer, Greylist
from policy_sim.checks import check_outcomes
from policy_sim.client import ClientSettings
from policy_sim.endpoint import parse_endpoint
from policy_sim.replay import ReplayResult, replay
from policy_sim.targets import resolve_fleet
from policy_sim.trace import Trace, parse_trace

TRACE = """\
version: 1
services:
  policy: {address}
stages:
  - {{state: RCPT, service: policy, score: 1, expect_score: true}}
  - {{state: DATA, service: policy, score: 2}}
  - {{state: END-OF-MESSAGE, service: policy, expect_score: true}}
mails:
"""


def scoring_trace(address: str, recipient_counts: list[int]) -> Trace:
    mails = "".join(
        f"  - {{client_address: 192.0.2.{n % 250 + 1}, client_name: mx{n}.example.net,"
        f" sender: s{n}@example.net,"
        f" recipients: [{', '.join(f'r{n}-{i}@example.org' for i in range(count))}]}}\n"
        for n, count in enumerate(recipient_counts)
    )
    return parse_trace(TRACE.format(address=address) + mails, "scoring.yaml")


def run(trace: Trace, server: FakePolicyServer, concurrency: int = 4, **settings: float) -> ReplayResult:
    endpoints = {"policy": parse_endpoint(server.address)}
    client = ClientSettings(retry_delay=0.01, **settings)  # type: ignore[arg-type]
    return asyncio.run(replay(trace, endpoints, concurrency, client, seed=7))


def test_replay_sends_every_stage_per_recipient_in_order(fake_server: FakePolicyServer) -> None:
    result = run(scoring_trace(fake_server.address, [3, 1]), fake_server, concurrency=1)
    states = [(r["protocol_state"], r["recipient"]) for r in fake_server.requests]
    assert states == [
        ("RCPT", "r0-0@example.org"),
        ("RCPT", "r0-1@example.org"),
        ("RCPT", "r0-2@example.org"),
        ("DATA", ""),
        ("END-OF-MESSAGE", ""),
        ("RCPT", "r1-0@example.org"),
        ("DATA", "r1-0@example.org"),
        ("END-OF-MESSAGE", "r1-0@example.org"),
    ]
    assert result.request_count == 8


def test_replay_sends_postfix_attributes(fake_server: FakePolicyServer) -> None:
    run(scoring_trace(fake_server.address, [2]), fake_server, concurrency=1)
    first_rcpt, second_rcpt, data, _ = fake_server.requests
    assert first_rcpt["request"] == "smtpd_access_policy"
    assert first_rcpt["recipient_count"] == "0" and first_rcpt["queue_id"] == ""
    assert second_rcpt["queue_id"] != "" and second_rcpt["queue_id"] == data["queue_id"]
    assert data["recipient_count"] == "2"
    for name in (
        "protocol_name",
        "helo_name",
        "client_address",
        "client_name",
        "reverse_client_name",
        "sasl_method",
        "sasl_username",
        "sasl_sender",
        "size",
        "policy_context",
        "server_address",
        "server_port",
        "encryption_protocol",
        "ccert_subject",
        "stress",
        "etrn_domain",
    ):
        assert name in first_rcpt
    assert first_rcpt["helo_name"] == "mx0.example.net" and first_rcpt["sender"] == "s0@example.net"


def test_instance_is_shared_by_a_mail_and_unique_per_mail(fake_server: FakePolicyServer) -> None:
    run(scoring_trace(fake_server.address, [4, 2, 3, 1, 5, 2]), fake_server, concurrency=3)
    by_sender: dict[str, set[str]] = defaultdict(set)
    for request in fake_server.requests:
        by_sender[request["sender"]].add(request["instance"])
    assert all(len(instances) == 1 for instances in by_sender.values())
    instances = [next(iter(values)) for values in by_sender.values()]
    assert len(set(instances)) == 6
    pid, seconds, micros, seqno = instances[0].split(".")
    assert all(int(part, 16) >= 0 for part in (pid, seconds, micros, seqno))


def test_each_smtpd_process_keeps_one_connection_when_reuse_is_unlimited(
    fake_server: FakePolicyServer,
) -> None:
    result = run(scoring_trace(fake_server.address, [2] * 40), fake_server, concurrency=4)
    assert result.connections_opened == 4
    assert fake_server.connections == 4


def test_reuse_limit_opens_a_new_connection_after_that_many_requests(fake_server: FakePolicyServer) -> None:
    result = run(scoring_trace(fake_server.address, [1] * 10), fake_server, concurrency=1, reuse_limit=2)
    assert result.request_count == 30
    assert result.connections_opened == 15


def test_score_invariant_holds_against_a_correct_server(fake_server: FakePolicyServer) -> None:
    result = run(scoring_trace(fake_server.address, [1, 5, 2, 50, 3] * 4), fake_server, concurrency=8)
    report = check_outcomes(result.outcomes, invariants=True)
    assert report.ok, report.findings[:3]
    assert report.scores_checked == sum([1, 5, 2, 50, 3] * 4) + 20


def test_score_check_finds_lost_updates(fake_server_factory: Callable[..., FakePolicyServer]) -> None:
    server = fake_server_factory(FakeBehaviour(lose_every=7))
    result = run(scoring_trace(server.address, [3] * 10), server)
    report = check_outcomes(result.outcomes, invariants=True)
    assert report.counts()["score-mismatch"] > 0
    assert "scoring.yaml:" in report.findings[0].where


def test_rejected_recipients_are_not_counted_and_all_rejected_skips_data(
    fake_server_factory: Callable[..., FakePolicyServer],
) -> None:
    server = fake_server_factory(FakeBehaviour(reject_recipients={"r0-1@example.org", "r1-0@example.org"}))
    result = run(scoring_trace(server.address, [2, 1]), server, concurrency=1)
    states = [(r["protocol_state"], r["recipient"], r["recipient_count"]) for r in server.requests]
    assert ("DATA", "r0-0@example.org", "1") in states
    assert [state for state, *_ in states[4:]] == ["RCPT"]  # mail 2: its only recipient was rejected
    assert [skipped.state for skipped in result.outcomes[1].skipped] == ["DATA", "END-OF-MESSAGE"]
    assert check_outcomes(result.outcomes).counts()["not-reached"] == 1


def test_unanswered_request_gets_postfix_default_action_and_is_reported(
    fake_server_factory: Callable[..., FakePolicyServer],
) -> None:
    server = fake_server_factory(FakeBehaviour(hang_up_on={"r0-0@example.org"}))
    result = run(scoring_trace(server.address, [1]), server, concurrency=1)
    record = result.outcomes[0].records[0]
    assert not record.answered and record.action == "451 4.3.5 Server configuration problem"
    assert len(record.failures) == 2  # try_limit attempts
    kinds = check_outcomes(result.outcomes, invariants=True).counts()
    assert kinds["unanswered"] == 1 and kinds["connection-error"] == 2


def test_connection_closed_by_the_server_is_reopened(
    fake_server_factory: Callable[..., FakePolicyServer],
) -> None:
    server = fake_server_factory(FakeBehaviour(close_after=1))
    result = run(scoring_trace(server.address, [1, 1]), server, concurrency=1)
    assert all(record.answered for outcome in result.outcomes for record in outcome.records)
    assert server.connections >= 6 - 1


FLEET_TRACE = """\
version: 2
services: {{policy: ''}}
hosts: {{mx-a: '{a}', mx-b: '{b}'}}
stages: [{{state: RCPT, service: policy}}, {{state: END-OF-MESSAGE, service: policy}}]
mails:
  - client_address: 192.0.2.1
    sender: s@example.net
    recipients: [r1@example.org, r2@example.org]
    host: mx-a
    retries:
      - after: 0.05
        host: mx-b
        stages:
          - {{state: RCPT, service: policy, expect: [dunno score=1, dunno score=2], score: 1,
              expect_score: true}}
          - {{state: END-OF-MESSAGE, service: policy, expect: dunno score=2}}
  - {{client_address: 192.0.2.2, sender: t@example.net, recipients: [r3@example.org], host: mx-b,
     retries: [{{after: 0.05, host: mx-a}}]}}
"""


def greylisting_fleet(factory: Callable[..., FakePolicyServer]) -> tuple[FakePolicyServer, FakePolicyServer]:
    shared = Greylist()
    return factory(FakeBehaviour(greylist=shared)), factory(FakeBehaviour(greylist=shared))


def test_a_greylisted_mail_is_retried_on_another_host_with_a_new_instance(
    fake_server_factory: Callable[..., FakePolicyServer],
) -> None:
    mx_a, mx_b = greylisting_fleet(fake_server_factory)
    trace = parse_trace(FLEET_TRACE.format(a=mx_a.address, b=mx_b.address), "fleet.yaml")
    fleet = resolve_fleet(trace, [])
    result = asyncio.run(replay(trace, fleet, 2, ClientSettings(retry_delay=0.01), seed=3))
    assert [(o.index, o.attempt, o.host) for o in result.outcomes] == [
        (0, 0, "mx-a"),
        (0, 1, "mx-b"),
        (1, 0, "mx-b"),
        (1, 1, "mx-a"),
    ]
    assert [
        (r["protocol_state"], r["recipient"]) for r in mx_a.requests if r["sender"] == "s@example.net"
    ] == [
        ("RCPT", "r1@example.org"),
        ("RCPT", "r2@example.org"),
    ]
    retried = [r for r in mx_b.requests if r["sender"] == "s@example.net"]
    assert [r["protocol_state"] for r in retried] == ["RCPT", "RCPT", "END-OF-MESSAGE"]
    assert retried[0]["instance"] != mx_a.requests[0]["instance"]
    report = check_outcomes(result.outcomes, invariants=True)
    assert report.ok, [finding.as_diff() for finding in report.findings]
    assert (report.mails, report.retries, report.expectations_checked, report.scores_checked) == (2, 2, 3, 2)


def test_a_retry_on_its_own_host_offers_only_the_deferred_recipients(
    fake_server_factory: Callable[..., FakePolicyServer],
) -> None:
    shared = Greylist({("192.0.2.9", "u@example.net", "known@example.org")})
    server = fake_server_factory(FakeBehaviour(greylist=shared))
    trace = parse_trace(
        f"version: 2\nservices: {{policy: '{server.address}'}}\nstages: [{{state: RCPT}}, {{state: DATA}}]\n"
        "mails:\n  - {client_address: 192.0.2.9, sender: u@example.net, recipients: [known@example.org, "
        "new@example.org], retries: [{after: 0}]}\n",
        "t.yaml",
    )
    result = asyncio.run(replay(trace, {"policy": parse_endpoint(server.address)}))
    first, retry = result.outcomes
    assert [r.recipient for r in first.records] == ["known@example.org", "new@example.org", ""]
    assert [(r.state, r.recipient, r.action) for r in retry.records] == [
        ("RCPT", "new@example.org", "dunno score=1"),
        ("DATA", "", "dunno"),
    ]
