"""Load runs write a JSON report that follows its documented schema, and an HTML chart page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import FakePolicyServer
from policy_sim.cli import main
from policy_sim.report import report_schema
from policy_sim.services.ports import free_port


def load(tmp_path: Path, *options: str, html: bool = False) -> tuple[int, dict[str, Any]]:
    """``policy-sim load`` with ``options``: its exit status and its report, checked against the schema."""
    report_path = tmp_path / "r.json"
    html_option = str(tmp_path / "r.html") if html else ""
    status = main(["load", *options, "--report-json", str(report_path), "--report-html", html_option, "-q"])
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, report_schema())
    return status, report


def test_closed_loop_load_writes_a_schema_valid_report_and_a_chart(
    fake_server: FakePolicyServer, tmp_path: Path
) -> None:
    status, report = load(
        tmp_path,
        "--duration",
        "1.5",
        "--concurrency",
        "4",
        "--mails",
        "50",
        "--target",
        fake_server.address,
        html=True,
    )
    assert status == 0
    result = report["results"][0]
    assert report["schema_version"] == 1 and report["mode"] == "closed"
    assert result["requests"] >= result["mails"] > 0 and result["throughput_rps"] > 0
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"] <= result["latency_ms"]["max"]
    assert result["actions"]["dunno"] == result["requests"]
    assert result["errors"]["unanswered"] == 0 and result["connections_opened"] == 4
    assert sum(row["requests"] for row in result["timeline"]) == result["requests"]
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 2 and "<polyline" in page and "http" not in page.split("<svg")[0]


def test_open_loop_with_baseline_reports_both_and_their_ratio(
    fake_server_factory: Callable[..., FakePolicyServer], tmp_path: Path
) -> None:
    target, baseline = fake_server_factory(), fake_server_factory()
    status, report = load(
        tmp_path, "--duration", "1", "--rate", "40", "--concurrency", "4", "--mails", "20",
        "--target", f"policy={target.address}", "--baseline", baseline.address,
    )  # fmt: skip
    assert status == 0
    assert report["mode"] == "open" and report["rate_mails_per_s"] == 40
    assert [result["label"] for result in report["results"]] == ["target", "baseline"]
    assert 10 <= report["results"][0]["mails"] <= 80  # seeded Poisson arrivals in 1 s at 40/s
    assert "queue_delay_ms" in report["results"][0]
    assert report["comparison"]["throughput_ratio"] > 0
    assert target.requests and baseline.requests


def test_schema_rejects_a_report_without_its_version(fake_server: FakePolicyServer, tmp_path: Path) -> None:
    _, report = load(tmp_path, "--duration", "0.3", "--mails", "5", "--target", fake_server.address)
    del report["schema_version"]
    with pytest.raises(jsonschema.ValidationError, match="'schema_version' is a required property"):
        jsonschema.validate(report, report_schema())


def test_load_against_a_closed_port_exits_1_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    status, report = load(
        tmp_path, "--duration", "0.3", "--mails", "5", "--retry-delay", "0", "--target", closed
    )
    assert status == 1
    result = report["results"][0]
    assert result["errors"]["unanswered"] == result["requests"] > 0 and result["connections_opened"] == 0
    expected = (
        f"FAILED: target (policy={closed}): {result['requests']} of {result['requests']} requests unanswered"
    )
    assert expected in capsys.readouterr().err


def test_load_on_two_targets_at_once_reports_each_and_their_total(
    fake_server_factory: Callable[..., FakePolicyServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = fake_server_factory(), fake_server_factory()
    status, report = load(
        tmp_path, "--duration", "1", "--concurrency", "2", "--mails", "20",
        "--target", f"a={first.address}", "--target", f"b={second.address}",
    )  # fmt: skip
    assert status == 0
    [result] = report["results"]
    a, b = result["targets"]
    assert (a["label"], b["label"]) == ("a", "b") and a["target"] == f"policy={first.address}"
    assert a["requests"] == len(first.requests) > 0 and b["requests"] == len(second.requests) > 0
    for figure in ("requests", "mails", "connections_opened"):
        assert result[figure] == a[figure] + b[figure]
    assert result["throughput_rps"] == pytest.approx(a["throughput_rps"] + b["throughput_rps"], abs=0.01)
    assert (a["connections_opened"], b["connections_opened"]) == (2, 2)  # --concurrency processes per host
    out = capsys.readouterr().out
    assert f"a (policy={first.address}): {a['requests']} requests = " in out
    assert f"b (policy={second.address}): {b['requests']} requests = " in out
