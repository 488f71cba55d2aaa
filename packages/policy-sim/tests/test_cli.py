"""The command line: help texts, errors with positions, replay diffs and exit codes, send."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import FakePolicyServer
from policy_sim.cli import main
from policy_sim.services.ports import free_port
from policy_sim.trace import load_trace

SUBCOMMANDS = ["send", "generate", "import-maillog", "replay", "load"]


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([command, "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert f"policy-sim {command}" in out and len(out.splitlines()) > 8


def test_bad_trace_file_exits_2_naming_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "broken.yaml"
    trace.write_text("mails:\n  - client_address: 192.0.2.1\n    recipients: [a@b\n")
    assert main(["replay", str(trace), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{trace}:" in err and "YAML syntax error" in err


def write_trace(tmp_path: Path, address: str, rcpt_expect: str) -> Path:
    trace = tmp_path / "t.yaml"
    trace.write_text(f"""\
services: {{policy: '{address}'}}
mails:
  - client_address: 192.0.2.1
    recipients: [a@example.org]
    stages:
      - {{state: RCPT, service: policy, expect: '{rcpt_expect}', score: 1, expect_score: true}}
      - {{state: END-OF-MESSAGE, service: policy, expect: {{regex: '^dunno'}}}}
""")
    return trace


def test_replay_that_matches_exits_0(
    fake_server: FakePolicyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path, fake_server.address, "dunno score=1")
    assert main(["replay", str(trace), "--check", "-q"]) == 0
    assert capsys.readouterr().out.startswith("OK: 1 mails, 2 requests, 2 expected actions, 1 scores")


def test_replay_mismatch_prints_a_diff_and_exits_1(
    fake_server: FakePolicyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path, fake_server.address, "reject")
    assert main(["replay", str(trace), "-q"]) == 1
    out = capsys.readouterr().out
    assert "action-mismatch:" in out and f"{trace}:6:9 mail 1 RCPT #1 <a@example.org>" in out
    assert "- expected: 'reject'" in out and "+ got:      'dunno score=1'" in out


def test_replay_service_option_overrides_the_trace_address(
    fake_server: FakePolicyServer, tmp_path: Path
) -> None:
    trace = write_trace(tmp_path, "127.0.0.1:9", "dunno score=1")
    assert main(["replay", str(trace), "--service", f"policy={fake_server.address}", "-q"]) == 0


def test_send_with_arguments_prints_the_action(
    fake_server: FakePolicyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["send", "--host", fake_server.address, "protocol_state=RCPT", "recipient=a@b", "-v"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "dunno score=1\n"
    assert ">> request=smtpd_access_policy" in captured.err and "<< action=dunno score=1" in captured.err
    assert fake_server.requests[0]["instance"]


def test_send_reads_requests_from_stdin_with_keepalive(
    fake_server: FakePolicyServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(
            "protocol_state=RCPT\ninstance=i1\n\nprotocol_state=RCPT\n"
            "instance=i1\n\nprotocol_state=DATA\ninstance=i1\n"
        ),
    )
    assert main(["send", "-k", "--host", fake_server.address]) == 0
    assert capsys.readouterr().out == "dunno score=1\ndunno score=2\ndunno\n"
    assert fake_server.connections == 1


def test_send_to_nothing_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--host", "127.0.0.1:1", "a=b"]) == 1
    assert "127.0.0.1:1" in capsys.readouterr().err


def test_generate_rejects_a_stage_of_an_undefined_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "-n", "1", "--stage", "RCPT@nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_replay_against_a_closed_port_fails_naming_the_unanswered_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    trace = tmp_path / "t.yaml"
    assert main(["generate", "-n", "3", "-s", f"policy={closed}", "-o", str(trace)]) == 0
    assert main(["replay", str(trace), "--retry-delay", "0", "-q"]) == 1
    out = capsys.readouterr().out
    assert "unanswered:" in out and f"+ got:      {closed}: Connect call failed" in out
    assert out.splitlines()[-1].startswith("FAILED: 3 mails") and "unanswered" in out.splitlines()[-1]


@pytest.mark.parametrize("stage", ["FOO@policy", "RCPT", "RCPT@policy:score=many", "RCPT@policy:colour=red"])
def test_a_bad_stage_is_refused_by_the_argument_parser(
    stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["generate", "-n", "1", "--stage", stage])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --stage" in err and "bad stage" in err


def test_import_maillog_sample_reads_the_log_installed_with_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "sample.yaml"
    assert main(["import-maillog", "--sample", "-o", str(trace)]) == 0
    assert "policy-sim: 17 mails from" in capsys.readouterr().err
    assert len(load_trace(trace).mails) == 17


def test_import_maillog_without_any_log_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-maillog"]) == 2
    assert "--sample" in capsys.readouterr().err
