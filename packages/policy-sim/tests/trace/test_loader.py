"""Trace files: the documented format loads; bad files name file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_sim.endpoint import Endpoint
from policy_sim.trace import TraceError, load_trace, parse_trace
from policy_sim.trace.model import Expectation, Host, Position, ScoreProbe
from policy_sim.trace.writer import dump_document

EXAMPLE = """\
version: 1
server: {address: 192.0.2.1, port: 587}
services:
  reputation: 127.0.0.1:12345
  accounting: {port: 12346, policy_context: acct}
mails:
  - id: first
    client_address: 198.51.100.7
    client_name: mail.example.net
    helo: helo.example.net
    sender: alice@example.net
    sasl_username: alice
    size: 4096
    recipients: [bob@example.org, carol@example.org]
    attributes: {ccert_subject: mail.example.net}
    stages:
      - state: RCPT
        service: reputation
        expect: [dunno, {regex: '^reject'}]
        score: 1.5
      - {state: DATA, service: accounting, expect: {exact: 'dunno'}}
      - {state: END-OF-MESSAGE, service: reputation, expect_score: 'total=(\\d+)'}
"""


def test_example_trace_loads_every_field() -> None:
    trace = parse_trace(EXAMPLE, "example.yaml")
    assert trace.services["reputation"].endpoint == Endpoint("127.0.0.1", 12345)
    assert trace.services["accounting"].endpoint == Endpoint("127.0.0.1", 12346)
    assert trace.services["accounting"].policy_context == "acct"
    assert (trace.server_address, trace.server_port) == ("192.0.2.1", "587")
    mail = trace.mails[0]
    assert (mail.id, mail.helo, mail.sasl_method, mail.size) == ("first", "helo.example.net", "PLAIN", 4096)
    assert mail.attributes == (("ccert_subject", "mail.example.net"),)
    rcpt, data, eom = mail.stages
    assert rcpt.expectation_for(0) == Expectation("dunno")
    assert rcpt.expectation_for(1) == Expectation("^reject", is_regex=True)
    assert rcpt.score == 1.5
    assert data.expectation_for(0) == Expectation("dunno")
    assert eom.expect_score == ScoreProbe(r"total=(\d+)")
    assert rcpt.position is not None and rcpt.position.line == 17
    assert mail.request_count() == 4


def test_json_traces_are_accepted(tmp_path: Path) -> None:
    document = {
        "services": {"p": "127.0.0.1:1"},
        "stages": [{"state": "RCPT", "service": "p"}],
        "mails": [{"client_address": "192.0.2.1", "recipients": ["a@b"]}],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(document, indent="\t"))
    trace = load_trace(path)
    assert trace.mails[0].helo == "[192.0.2.1]" and trace.mails[0].client_name == "unknown"


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("mails:\n  - client_address: [1.2.3.4\n    sender: x\n")
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert str(caught.value).startswith(f"{path}:")
    assert caught.value.position.line is not None and caught.value.position.column is not None


def test_json_syntax_error_names_line_and_column() -> None:
    with pytest.raises(TraceError, match=r"^t\.json:3:1: JSON syntax error"):
        parse_trace('{"mails": [\n  1,\n]}', "t.json")


FLEET = """\
version: 2
services: {reputation: '', accounting: ''}
hosts:
  mx-a: 127.0.0.1:2525
  mx-b: {reputation: 127.0.0.1:1, accounting: 127.0.0.1:2}
  mx-c:
stages: [{state: RCPT, service: reputation}]
mails:
  - client_address: 192.0.2.1
    recipients: [a@example.org, b@example.org]
    host: mx-b
    retries:
      - {after: 300, host: mx-a, stages: [{state: RCPT, service: reputation, expect: [dunno, reject]}]}
      - {after: 1.5}
  - {client_address: 192.0.2.2, recipients: [c@example.org]}
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("mails:\n  - client_address: 1.2.3.4\n    recipent: [a@b]\n", 3, "unknown key 'recipent'"),
        (
            "services: {p: 1}\nmails:\n  - client_address: x\n    recipients: [a]\n    stages:\n"
            "      - {state: RCTP, service: p}\n",
            6,
            "unknown protocol state 'RCTP'",
        ),
        (
            "mails:\n  - client_address: x\n    recipients: [a, b]\n    stages:\n"
            "      - {state: RCPT, service: 127.0.0.1:1, expect: [dunno]}\n",
            5,
            "expect lists 1 actions",
        ),
        (
            "mails:\n  - client_address: x\n    recipients: [a, b]\n    stages:\n"
            "      - {state: RCPT, service: nowhere}\n",
            5,
            "service 'nowhere' is not in 'services'",
        ),
        (
            "mails:\n  - recipients: [a]\n    stages: [{state: RCPT, service: 1.2.3.4:5}]\n",
            2,
            "client_address",
        ),
        (
            "mails:\n  - client_address: x\n    recipients: [a, b]\n    stages:\n"
            "      - {state: RCPT, service: 127.0.0.1:1, expect: [dunno, {regex: '('}]}\n",
            5,
            "bad regex",
        ),
        (FLEET.replace("version: 2", "version: 1"), 4, "'hosts' needs trace version 2"),
        (FLEET.replace("version: 2", "version: 3"), 1, "unsupported trace version '3'"),
        (FLEET.replace("host: mx-b", "host: mx-z"), 11, "unknown host 'mx-z' (hosts: mx-a, mx-b, mx-c)"),
        (FLEET.replace("after: 1.5", "after: -1"), 14, "after must not be negative"),
        (FLEET.replace("accounting: 127.0.0.1:2}", "billing: 127.0.0.1:2}"), 5, "unknown key 'billing'"),
        (FLEET.replace("[dunno, reject]", "[dunno]"), 13, "expect lists 1 actions but the stage makes 2"),
        (
            "services: {p: 1.2.3.4:5}\nmails:\n  - {client_address: x, recipients: [a],"
            " stages: [{state: RCPT}], host: mx}\n",
            3,
            "unknown host 'mx' (hosts: none: the trace has no 'hosts')",
        ),
    ],
)
def test_bad_traces_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(TraceError) as caught:
        parse_trace(text, "t.yaml")
    assert caught.value.position.line == line, str(caught.value)
    assert message in caught.value.message
    assert str(caught.value).startswith(f"t.yaml:{line}:")


def test_expect_list_must_match_the_recipients() -> None:
    with pytest.raises(TraceError, match="expect lists 3 actions but the stage makes 2 requests"):
        parse_trace(
            "mails:\n  - client_address: x\n    recipients: [a, b]\n    stages:\n"
            "      - {state: RCPT, service: 127.0.0.1:1, expect: [a, b, c]}\n",
            "t.yaml",
        )


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30))
def test_any_sender_text_round_trips_through_the_writer(sender: str) -> None:
    document = {
        "services": {"p": "127.0.0.1:9"},
        "stages": [{"state": "MAIL", "service": "p"}],
        "mails": [{"client_address": "192.0.2.1", "sender": sender}],
    }
    assert parse_trace(dump_document(document), "t.yaml").mails[0].sender == sender


def test_fleet_trace_loads_hosts_and_retries() -> None:
    trace = parse_trace(FLEET, "fleet.yaml")
    assert trace.hosts["mx-a"] == Host("mx-a", Endpoint("127.0.0.1", 2525), (), Position("fleet.yaml", 4, 3))
    assert dict(trace.hosts["mx-b"].services) == {
        "reputation": Endpoint("127.0.0.1", 1),
        "accounting": Endpoint("127.0.0.1", 2),
    }
    assert trace.hosts["mx-c"].address is None and not trace.hosts["mx-c"].services
    first, second = trace.mails
    assert first.host == "mx-b" and second.host == "" and second.retries == ()
    moved, later = first.retries
    assert (moved.after, moved.host, later.after, later.host, later.stages) == (300, "mx-a", 1.5, "", ())
    assert moved.stages[0].expectation_for(1) == Expectation("reject")


def test_version_1_traces_still_load_unchanged() -> None:
    trace = parse_trace(EXAMPLE, "example.yaml")
    assert trace.hosts == {} and all(mail.host == "" and mail.retries == () for mail in trace.mails)
