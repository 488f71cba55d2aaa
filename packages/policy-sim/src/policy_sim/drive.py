"""``policy-sim replay`` and ``policy-sim load``: drive one daemon or a fleet, then report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import sys
from pathlib import Path

from policy_sim.checks import check_outcomes, lock_failures
from policy_sim.exit_status import EXIT_MISMATCH, EXIT_OK, UsageError
from policy_sim.fleet_setup import client_settings, command_line_targets, fleet_for, parse_targets, read_trace
from policy_sim.generate import GeneratorSettings, generate_document
from policy_sim.load import LoadSettings, run_load
from policy_sim.outcome import MailOutcome
from policy_sim.plot import render_html
from policy_sim.progress import Progress
from policy_sim.replay import replay
from policy_sim.report import build_report, load_failures, summary_text
from policy_sim.stats import RunStats
from policy_sim.trace import Trace
from policy_sim.trace.loader import parse_trace
from policy_sim.trace.writer import dump_document


def run_replay(args: argparse.Namespace) -> int:
    """Replay a trace; print mismatches and unanswered requests; exit 1 on any."""
    trace = read_trace(args.trace)
    with contextlib.ExitStack() as stack:
        targets = command_line_targets(args, trace)
        fleet, logs = fleet_for(trace, stack, targets, args.spawn, args.spawn_command)
        if args.daemon_log:
            logs.append(Path(args.daemon_log))
        progress = Progress(len(trace.mails), "mails", enabled=not args.quiet)
        stats = RunStats()

        def finished(outcome: MailOutcome) -> None:
            stats.add(outcome)
            progress.update(stats.mails, stats.requests, stats.unanswered)

        result = asyncio.run(
            replay(trace, fleet, args.concurrency or 1, client_settings(args), finished, args.seed)
        )
        progress.finish(stats.mails, stats.requests, stats.unanswered)
        report = check_outcomes(result.outcomes, invariants=args.check)
        if args.check:
            for log in logs:
                if log.exists():
                    report.findings.extend(lock_failures(log))
    for finding in report.findings[: args.max_diffs]:
        print(finding.as_diff())
    if len(report.findings) > args.max_diffs:
        print(f"… and {len(report.findings) - args.max_diffs} more")
    rate = result.request_count / result.elapsed if result.elapsed else 0.0
    hosts = f" on {len(fleet)} hosts" if len(fleet) > 1 else ""
    print(
        f"{'OK' if report.ok else 'FAILED'}: {report.summary()}; {result.elapsed:.1f}s, {rate:.0f} req/s, "
        f"{result.connections_opened} connections{hosts}"
    )
    return EXIT_OK if report.ok else EXIT_MISMATCH


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
    elif path:
        Path(path).write_text(text, encoding="utf-8")


def _load_trace(args: argparse.Namespace) -> Trace:
    if args.trace:
        return read_trace(args.trace)
    document = generate_document(GeneratorSettings(mails=args.mails, seed=args.seed))
    return parse_trace(dump_document(document), "<generated>")


def run_load_command(args: argparse.Namespace) -> int:
    """Run the load against the target(s), then the baseline; write the reports; exit 1 on unanswered."""
    if args.baseline and args.baseline_command:
        raise UsageError("give the baseline either with --baseline or with --baseline-command, not both")
    if args.baseline_command and not args.spawn:
        raise UsageError(
            "--baseline-command spawns the --spawn config with another daemon: add --spawn CONFIG, "
            "or give a running baseline with --baseline HOST:PORT"
        )
    trace = _load_trace(args)
    settings = LoadSettings(
        duration=args.duration,
        concurrency=args.concurrency or 8,
        rate=args.rate,
        seed=args.seed,
        client=client_settings(args),
    )
    started_at = datetime.datetime.now(datetime.UTC)
    results = []
    with contextlib.ExitStack() as stack:
        targets = command_line_targets(args, trace)
        runs = [("target", fleet_for(trace, stack, targets, args.spawn, args.spawn_command)[0])]
        if args.baseline_command:
            runs.append(
                ("baseline", fleet_for(trace, stack, [], args.spawn, args.baseline_command, "baseline")[0])
            )
        if args.baseline:
            baseline = parse_targets([args.baseline], "baseline", trace)
            runs.append(("baseline", fleet_for(trace, stack, baseline, label="baseline")[0]))
        for label, fleet in runs:
            progress = Progress(settings.duration, f"s ({label})", enabled=not args.quiet)

            def show(stats: RunStats, elapsed: float, progress: Progress = progress) -> None:
                progress.update(elapsed, stats.requests, stats.unanswered)

            result = asyncio.run(run_load(trace, fleet, settings, label, show))
            progress.finish(
                min(result.elapsed, settings.duration), result.stats.requests, result.stats.unanswered
            )
            results.append(result)
    report = build_report(trace, settings, results, started_at)
    _write(args.report_json, json.dumps(report, indent=1) + "\n")
    if args.report_html:
        _write(args.report_html, render_html(report))
    print(summary_text(report), file=sys.stderr if args.report_json == "-" else sys.stdout)
    problems = load_failures(report)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return EXIT_MISMATCH if problems else EXIT_OK
