"""policy-sim's self-contained runs: --spawn starts the daemon and memcached from a config template."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from policy_sim.cli import main
from policy_sim.generate import GeneratorSettings, generate_document
from policy_sim.report import report_schema
from policy_sim.trace.writer import write_document

from integration.sim.test_replay_invariants import STAGES, scoring_config

PERL_MTPOLICYD = "/usr/bin/mtpolicyd"


def write_inputs(tmp_path: Path, mails: int) -> tuple[Path, Path]:
    config = tmp_path / "scoring.conf"
    config.write_text(scoring_config("memcached"))
    trace = tmp_path / "trace.yaml"
    settings = GeneratorSettings(
        mails=mails, seed=9, services={"reputation": "", "accounting": ""}, stages=STAGES
    )
    write_document(generate_document(settings), str(trace))
    return config, trace


def test_replay_with_spawn_checks_every_invariant(tmp_path: Path) -> None:
    config, trace = write_inputs(tmp_path, 300)
    assert main(["replay", str(trace), "--spawn", str(config), "--check", "--concurrency", "32", "-q"]) == 0


def test_load_with_spawn_compares_our_daemon_with_the_perl_original(tmp_path: Path) -> None:
    config, trace = write_inputs(tmp_path, 100)
    report_path, html_path = tmp_path / "load.json", tmp_path / "load.html"
    status = main(
        [
            "load",
            str(trace),
            "--spawn",
            str(config),
            "--baseline-command",
            PERL_MTPOLICYD,
            "--duration",
            "2",
            "--concurrency",
            "8",
            "--report-json",
            str(report_path),
            "--report-html",
            str(html_path),
            "-q",
        ]
    )
    assert status == 0
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, report_schema())
    assert [result["label"] for result in report["results"]] == ["target", "baseline"]
    assert all(result["errors"]["unanswered"] == 0 and result["requests"] > 0 for result in report["results"])
    assert report["comparison"]["throughput_ratio"] > 0
    assert "<svg" in html_path.read_text()
