"""The load report: a JSON document (``schema_version`` 1, see schemas/) and its summary text."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from policy_sim import __version__
from policy_sim.load import LoadResult, LoadSettings, result_document
from policy_sim.trace.model import Trace

SCHEMA_VERSION = 1


def report_schema() -> dict[str, Any]:
    """The JSON Schema the report follows."""
    text = resources.files("policy_sim").joinpath("schemas/load-report-v1.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def build_report(
    trace: Trace, settings: LoadSettings, results: Sequence[LoadResult], started_at: datetime.datetime
) -> dict[str, Any]:
    """The whole report; with two results the second is the baseline and a comparison is added."""
    documents = [result_document(result) for result in results]
    comparison = None
    if len(documents) == 2:
        target, baseline = documents
        comparison = {
            "target": target["label"],
            "baseline": baseline["label"],
            "throughput_ratio": _ratio(target["throughput_rps"], baseline["throughput_rps"]),  # type: ignore[arg-type]
            "p50_ratio": _ratio(target["latency_ms"]["p50"], baseline["latency_ms"]["p50"]),  # type: ignore[index]
            "p99_ratio": _ratio(target["latency_ms"]["p99"], baseline["latency_ms"]["p99"]),  # type: ignore[index]
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "policy-sim",
        "tool_version": __version__,
        "started_at": started_at.isoformat(timespec="seconds"),
        "mode": "closed" if settings.rate is None else "open",
        "duration_s": settings.duration,
        "concurrency": settings.concurrency,
        "rate_mails_per_s": settings.rate,
        "seed": settings.seed,
        "trace": {"source": trace.source, "mails": len(trace.mails), "services": sorted(trace.services)},
        "results": documents,
        "comparison": comparison,
    }


def load_failures(report: dict[str, Any]) -> list[str]:
    """Why a load run is not a valid measurement: requests that got no answer, or no request at all."""
    problems = []
    for result in report["results"]:
        errors = result["errors"]
        if result["requests"] == 0:
            problems.append(f"{result['label']} ({result['target']}): no request was sent")
        elif errors["unanswered"]:
            kinds = ", ".join(f"{kind} ({count})" for kind, count in errors["by_kind"].items()) or "no answer"
            problems.append(
                f"{result['label']} ({result['target']}): {errors['unanswered']} of {result['requests']} "
                f"requests unanswered: {kinds}"
            )
    return problems


def _host_line(host: dict[str, Any]) -> str:
    latency, errors = host["latency_ms"], host["errors"]
    return (
        f"  {host['label']} ({host['target']}): {host['requests']} requests = "
        f"{host['throughput_rps']:.1f} req/s, p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms, "
        f"{errors['unanswered']} unanswered, {errors['failed_attempts']} failed attempts"
    )


def summary_text(report: dict[str, Any]) -> str:
    """A few human lines: per run throughput, latency, actions, errors, per target of a fleet; the ratio."""
    lines = []
    for result in report["results"]:
        latency = result["latency_ms"]
        errors = result["errors"]
        actions = ", ".join(f"{word} {count}" for word, count in result["actions"].items()) or "none"
        retries = f", {result['retries']} retries" if result.get("retries") else ""
        lines += [
            f"{result['label']} ({result['target']}): {result['requests']} requests, {result['mails']} mails"
            f"{retries} in {result['elapsed_s']:.1f}s = {result['throughput_rps']:.1f} req/s",
            f"  latency ms: p50 {latency['p50']:.2f}  p90 {latency['p90']:.2f}  p99 {latency['p99']:.2f}  "
            f"max {latency['max']:.2f}",
            f"  actions: {actions}",
            f"  errors: {errors['unanswered']} unanswered, {errors['failed_attempts']} failed attempts",
        ]
        if len(result.get("targets", ())) > 1:
            lines.append(
                f"  per target ({len(result['targets'])} at once; the figures above are their total):"
            )
            lines += ["  " + _host_line(host) for host in result["targets"]]
    comparison = report.get("comparison")
    if comparison:
        lines.append(
            f"{comparison['target']} / {comparison['baseline']}: "
            f"throughput x{comparison['throughput_ratio']}, "
            f"p50 x{comparison['p50_ratio']}, p99 x{comparison['p99_ratio']}"
        )
    return "\n".join(lines)
