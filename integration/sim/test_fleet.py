"""policy-sim on a fleet of our daemons: load on two at once; a greylisted mail retried via the other MX."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from policy_sim.cli import main
from policy_sim.generate import GeneratorSettings, generate_document
from policy_sim.report import report_schema
from policy_sim.trace.writer import write_document

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.memcached import MemcachedServer
from integration.sim.test_replay_invariants import STAGES, scoring_config

HERE = Path(__file__).parent


def host_spec(name: str, daemon: MtpolicydDaemon) -> str:
    """``--target`` naming a fleet host and the daemon's two vhosts."""
    reputation, accounting = daemon.ports
    return f"{name}=reputation={daemon.host}:{reputation},accounting={daemon.host}:{accounting}"


def test_load_on_two_daemons_at_once_reports_each_and_a_total_that_adds_up(
    python_mtpolicyd: Callable[..., MtpolicydDaemon],
    memcached_server: MemcachedServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = scoring_config("memcached")
    mx1 = python_mtpolicyd(config, memcached=memcached_server.address)
    mx2 = python_mtpolicyd(config, memcached=memcached_server.address)
    trace = tmp_path / "fleet.yaml"
    settings = GeneratorSettings(
        mails=200, seed=11, hosts=2, services={"reputation": "", "accounting": ""}, stages=STAGES
    )
    write_document(generate_document(settings), str(trace))
    report_path = tmp_path / "load.json"

    status = main(
        [
            "load",
            str(trace),
            "--target",
            host_spec("mx1", mx1),
            "--target",
            host_spec("mx2", mx2),
            "--duration",
            "2",
            "--concurrency",
            "4",
            "--report-json",
            str(report_path),
            "--report-html",
            str(tmp_path / "load.html"),
            "-q",
        ]
    )

    assert status == 0
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, report_schema())
    [total] = report["results"]
    first, second = total["targets"]
    assert [first["label"], second["label"]] == ["mx1", "mx2"]
    assert first["requests"] > 0 and second["requests"] > 0
    for figure in ("mails", "retries", "requests", "connections_opened"):
        assert total[figure] == first[figure] + second[figure], figure
    assert total["retries"] == 0  # the scoring config never defers
    assert (
        total["errors"]["unanswered"] == first["errors"]["unanswered"] + second["errors"]["unanswered"] == 0
    )
    assert total["throughput_rps"] == pytest.approx(
        first["throughput_rps"] + second["throughput_rps"], abs=0.01
    )
    assert sum(row["requests"] for row in total["timeline"]) == total["requests"]
    assert total["actions"] == {
        word: first["actions"].get(word, 0) + second["actions"].get(word, 0)
        for word in {*first["actions"], *second["actions"]}
    }
    out = capsys.readouterr().out
    assert f"mx1 ({first['target']}): {first['requests']} requests" in out
    assert f"mx2 ({second['target']}): {second['requests']} requests" in out


GREYLIST_1X = """\
memcached_servers = "{memcached}"
db_dsn = "dbi:SQLite:dbname={tmpdir}/awl.sqlite"
<VirtualHost {port}>
  name = policy
  <Plugin greylist>
    module = "Greylist"
    mode = "accept"
    min_retry_wait = 1
    use_autowl = 0
  </Plugin>
</VirtualHost>
"""

#: the retry comes after 2.5 s: a ticket of min_retry_wait = 1 matures when the whole second after
#: it has passed (the original compares `time > ticket` in whole seconds), at most 2 s after it was made
GREYLISTED_FLEET_TRACE = """\
version: 2
services: {policy: ''}
hosts: {mx1: '', mx2: ''}
mails:
  - client_address: 192.0.2.10
    sender: a@example.net
    recipients: [b@example.org, c@example.org]
    host: mx1
    stages: [{state: RCPT, service: policy, expect: {regex: '^defer greylisting is active$'}}]
    retries:
      - after: 2.5
        host: mx2
        stages: [{state: RCPT, service: policy, expect: accept}]
"""


def test_a_greylisted_mail_passes_when_retried_via_the_other_mx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--spawn starts one daemon per host on one memcached: the ticket made on mx1 lets the retry pass mx2."""
    config, trace = tmp_path / "greylist.conf", tmp_path / "fleet.yaml"
    config.write_text(GREYLIST_1X)
    trace.write_text(GREYLISTED_FLEET_TRACE)

    assert main(["replay", str(trace), "--spawn", str(config), "--check", "-q"]) == 0

    captured = capsys.readouterr()
    assert captured.out.startswith("OK: 1 mails, 1 retries, 4 requests, 4 expected actions")
    assert "spawned mtpolicyd as mx1" in captured.err and "spawned mtpolicyd as mx2" in captured.err
