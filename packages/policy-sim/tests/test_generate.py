"""Synthetic traces: seeded, long-tailed recipient counts within limits, repeat clients."""

from __future__ import annotations

import ipaddress
from collections import Counter

from policy_sim.generate import GeneratorSettings, StageSpec, generate_document
from policy_sim.trace import parse_trace
from policy_sim.trace.writer import dump_document


def test_a_seed_gives_a_known_trace() -> None:
    mails = generate_document(GeneratorSettings(mails=50, seed=3))["mails"]
    assert mails[0] == {
        "client_address": "192.0.2.244",
        "client_name": "mx0.ppwcrn.test",
        "helo": "mx0.ppwcrn.test",
        "sender": "dmpg.ktdl@tbz.example.org",
        "recipients": ["ldxbtpw129@example.org", "ytmvxgqs164@example.org", "lgh158@example.org"],
        "size": 15468,
    }
    assert (mails[49]["sasl_username"], len(mails[49]["recipients"]), mails[49]["size"]) == (
        "user0",
        12,
        33365,
    )
    assert generate_document(GeneratorSettings(mails=50, seed=4))["mails"][0] != mails[0]


def test_recipient_counts_stay_in_range_with_a_long_tail() -> None:
    mails = generate_document(GeneratorSettings(mails=2000, seed=1, max_recipients=50))["mails"]
    counts = [len(mail["recipients"]) for mail in mails]
    assert min(counts) == 1 and max(counts) <= 50
    assert sum(counts) / len(counts) < 5
    assert sum(1 for count in counts if count >= 20) >= 10  # the tail is there
    assert all(len(set(mail["recipients"])) == len(mail["recipients"]) for mail in mails)


def test_clients_repeat_and_some_mails_use_sasl_or_the_null_sender() -> None:
    mails = generate_document(GeneratorSettings(mails=1000, seed=2))["mails"]
    clients = Counter(mail["client_address"] for mail in mails)
    assert clients.most_common(1)[0][1] > 20
    assert any("sasl_username" in mail for mail in mails)
    assert any(mail["sender"] == "" for mail in mails)


def test_generated_trace_loads_with_its_stages() -> None:
    stages = [
        StageSpec.parse("RCPT@a:score=1:expect_score"),
        StageSpec.parse("DATA@b:score=2"),
        StageSpec.parse("END-OF-MESSAGE@a:expect_score:expect=dunno"),
    ]
    settings = GeneratorSettings(mails=20, services={"a": "127.0.0.1:1", "b": "127.0.0.1:2"}, stages=stages)
    trace = parse_trace(dump_document(generate_document(settings)), "g.yaml")
    rcpt, data, eom = trace.mails[0].stages
    assert (rcpt.service, rcpt.score, rcpt.expect_score is not None) == ("a", 1.0, True)
    assert (data.service, data.score) == ("b", 2.0)
    assert eom.expectation_for(0) is not None


def test_whole_stage_scores_are_written_as_integers() -> None:
    assert StageSpec("RCPT", "a", score=1).as_document()["score"] == 1
    assert isinstance(StageSpec("RCPT", "a", score=2.0).as_document()["score"], int)
    assert StageSpec("RCPT", "a", score=0.5).as_document()["score"] == 0.5


DOCUMENTATION = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
RESERVED = ("example", "test", "invalid", "example.com", "example.net", "example.org")


def is_reserved(domain: str) -> bool:
    return any(domain == name or domain.endswith("." + name) for name in RESERVED)


def test_generated_clients_and_domains_are_documentation_ones_only() -> None:
    mails = generate_document(GeneratorSettings(mails=8000, seed=5, clients=1000))["mails"]
    addresses = {ipaddress.ip_address(mail["client_address"]) for mail in mails}
    assert all(any(address in network for network in DOCUMENTATION) for address in addresses)
    assert any(address.version == 6 for address in addresses) and len(addresses) > 500
    domains = {
        address.rsplit("@", 1)[1]
        for mail in mails
        for address in (mail["sender"], *mail["recipients"])
        if address
    }
    domains |= {mail[key] for mail in mails for key in ("client_name", "helo")} - {"unknown"}
    domains = {domain for domain in domains if not domain.startswith("[")}
    assert domains and all(is_reserved(domain) for domain in domains), sorted(
        d for d in domains if not is_reserved(d)
    )[:5]


def test_a_fleet_trace_spreads_mails_and_moves_a_share_of_retries_to_another_host() -> None:
    plain = generate_document(GeneratorSettings(mails=1000, seed=6))
    fleet = generate_document(
        GeneratorSettings(mails=1000, seed=6, hosts=3, retry_share=0.3, retry_after=2.5)
    )
    assert (plain["version"], fleet["version"], fleet["hosts"]) == (1, 2, {"mx1": "", "mx2": "", "mx3": ""})
    assert "hosts" not in plain and all("host" not in mail for mail in plain["mails"])
    firsts = Counter(mail["host"] for mail in fleet["mails"])
    assert set(firsts) == {"mx1", "mx2", "mx3"} and min(firsts.values()) > 250
    assert all(len(mail["retries"]) == 1 and mail["retries"][0]["after"] == 2.5 for mail in fleet["mails"])
    moved = sum(mail["retries"][0]["host"] != mail["host"] for mail in fleet["mails"])
    assert 240 <= moved <= 360  # 30 % of 1000, seeded
    envelope = [{k: v for k, v in mail.items() if k not in ("host", "retries")} for mail in fleet["mails"]]
    assert envelope == plain["mails"]  # the fleet options add hosts, the mails stay those of the seed


def test_generated_fleet_trace_loads_as_version_2() -> None:
    settings = GeneratorSettings(mails=5, hosts=2, services={"policy": ""})
    trace = parse_trace(dump_document(generate_document(settings)), "g.yaml")
    assert list(trace.hosts) == ["mx1", "mx2"] and all(mail.host and mail.retries for mail in trace.mails)
