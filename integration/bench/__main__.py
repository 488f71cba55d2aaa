"""Run the same load against our mtpolicyd and the Perl original, scenario by scenario; report the ratios.

Usage: ``python -m integration.bench [--scenario NAME]… [--duration S] [--warmup S] [--out DIR]
[--write-docs]``. Scenarios, what is measured and how: docs/performance.md.
Numbers are reported, never asserted: a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from integration.bench.measure import LoadShape, Measurement, measure, wait_until_answering
from integration.bench.plot import comparison_svg
from integration.bench.report import (
    build_rows,
    check_targets,
    performance_doc,
    results_markdown,
    run_info,
)
from integration.bench.scenarios import BY_NAME, NOT_LISTED, SCENARIOS, Scenario
from integration.fixtures.daemons import MtpolicydDaemon, perl_mtpolicyd_argv, python_mtpolicyd_argv
from integration.fixtures.delayed_dns import DelayedDns
from integration.fixtures.memcached import MemcachedServer

DOCS = Path(__file__).resolve().parents[2] / "docs"


@contextlib.contextmanager
def started_daemon(
    kind: str,
    name: str,
    workdir: Path,
    scenario: Scenario,
    values: dict[str, str],
    env: dict[str, str] | None,
) -> Iterator[MtpolicydDaemon]:
    """One daemon of the scenario, answering; stopped afterwards (one daemon runs at a time)."""
    argv = perl_mtpolicyd_argv() if kind == "perl" else python_mtpolicyd_argv()
    daemon = MtpolicydDaemon(argv, name, workdir / name, scenario.template(), values, env)
    try:
        wait_until_answering(daemon.start())
        yield daemon
    finally:
        daemon.stop()


def run_scenario(
    scenario: Scenario, shape: LoadShape, workdir: Path, out: Path, memcached: MemcachedServer | None
) -> list[Measurement]:
    """Every variant (Perl first) at every connection count, against fresh back-ends."""
    measurements = []
    with contextlib.ExitStack() as stack:
        dns = None
        if scenario.dns_delay_ms is not None:
            zones = dict.fromkeys(scenario.zones, NOT_LISTED)
            dns = DelayedDns(workdir, zones, scenario.dns_delay_ms).start()
            stack.callback(dns.stop)
        for variant in scenario.variants:
            values = scenario.values(variant)
            if memcached is not None:
                values |= {
                    "memcached": memcached.address,
                    "namespace": f"bench-{scenario.name}-{variant.key}-",
                }
            name = f"{scenario.name}-{variant.key}"
            with started_daemon(
                variant.daemon, name, workdir, scenario, values, dns.env if dns else None
            ) as daemon:
                for connections in scenario.connections:
                    print(f"bench: {scenario.name}, {variant.label}, {connections} connections …", flush=True)
                    found = measure(
                        scenario.name, variant.key, variant.daemon, daemon, connections, shape, dns, out
                    )
                    print(f"bench:   {found.throughput_rps:,.0f} req/s, p50 {found.p50_ms:.1f} ms, "
                          f"p99 {found.p99_ms:.1f} ms, {found.cpu_us_per_request} µs CPU/req, "
                          f"PSS {found.pss_kib_max / 1024:.0f} MiB", flush=True)  # fmt: skip
                    measurements.append(found)
    return measurements


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m integration.bench", description=__doc__)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(BY_NAME),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(BY_NAME)}; default all",
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of load per window (default 20)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of unmeasured load before each window (default 3)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="report directory")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="also rewrite docs/performance.md and docs/performance.svg with this run",
    )
    return parser.parse_args(argv)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios; write summary.json, results.md, throughput.svg (and the docs)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # a TERM (timeout, Ctrl-C in tox) unwinds like an exception, so every service started is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    scenarios = [BY_NAME[name] for name in args.scenario] if args.scenario else list(SCENARIOS)
    args.out.mkdir(parents=True, exist_ok=True)
    shape = LoadShape(duration=args.duration, warmup=args.warmup)
    run = run_info(argv, args.duration, args.warmup)
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="mtpolicyd-bench-") as tmp:
        workdir = Path(tmp)
        memcached = None
        if any(scenario.memcached for scenario in scenarios):
            memcached = MemcachedServer(workdir).start()
        try:
            for scenario in scenarios:
                measurements += run_scenario(scenario, shape, workdir, args.out,
                                             memcached if scenario.memcached else None)  # fmt: skip
        finally:
            if memcached is not None:
                memcached.stop()
    rows = build_rows(scenarios, measurements)
    targets = check_targets(rows)
    perl_label = f"Perl {run['machine']['perl_mtpolicyd'].split('-')[0]}"
    summary = {
        "run": run,
        "rows": [row.as_dict() for row in rows],
        "targets": [vars(target) for target in targets],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    (args.out / "throughput.svg").write_text(comparison_svg(rows, perl_label))
    results = results_markdown(rows, scenarios, measurements, targets, run, "throughput.svg")
    (args.out / "results.md").write_text(results)
    if args.write_docs:
        (DOCS / "performance.svg").write_text(comparison_svg(rows, perl_label))
        doc_results = results_markdown(rows, scenarios, measurements, targets, run, "performance.svg")
        (DOCS / "performance.md").write_text(performance_doc(doc_results))
    print(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
