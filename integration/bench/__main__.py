"""Run the same load against our mtpolicyd and the Perl original; print throughput, latency and memory ratios.

Usage: ``python -m integration.bench [--duration S] [--concurrency N] [--out DIR]``.
Both daemons run the same config (``scoring.conf``) against one real memcached.
Numbers are reported, never asserted: a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from integration.bench.memory import process_group_rss_kib
from integration.fixtures.daemons import MtpolicydDaemon, perl_mtpolicyd_argv, python_mtpolicyd_argv
from integration.fixtures.memcached import MemcachedServer

HERE = Path(__file__).parent
PROBE = {"request": "smtpd_access_policy", "instance": "bench-probe", "client_address": "192.0.2.1"}


def wait_until_answering(daemon: MtpolicydDaemon, timeout: float = 30.0) -> None:
    """Poll until the daemon answers: Perl's children may drop connections accepted while they start."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            daemon.request(PROBE)
            return
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_load(
    target: MtpolicydDaemon, baseline: MtpolicydDaemon, args: argparse.Namespace
) -> dict[str, object]:
    """``policy-sim load`` against both daemons; its JSON report."""
    report = args.out / "load.json"
    command = [
        str(Path(sys.executable).parent / "policy-sim"),
        "load",
        "--quiet",
        "--duration",
        str(args.duration),
        "--concurrency",
        str(args.concurrency),
        "--target",
        f"{target.host}:{target.port}",
        "--baseline",
        f"{baseline.host}:{baseline.port}",
        "--report-json",
        str(report),
        "--report-html",
        str(args.out / "load.html"),
    ]
    subprocess.run(command, check=True)
    loaded: dict[str, object] = json.loads(report.read_text())
    return loaded


def main(argv: list[str] | None = None) -> int:
    """Start memcached and both daemons, run the load, write ``summary.json``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per daemon")
    parser.add_argument("--concurrency", type=int, default=16, help="simulated smtpd processes")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="report directory")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    template = (HERE / "scoring.conf").read_text()
    with tempfile.TemporaryDirectory(prefix="mtpolicyd-bench-") as workdir:
        memcached = MemcachedServer(Path(workdir)).start()
        commands = {"python": python_mtpolicyd_argv(), "perl": perl_mtpolicyd_argv()}
        daemons: dict[str, MtpolicydDaemon] = {}
        try:
            for name, command in commands.items():
                # one after the other: a daemon's free port is taken only once it listens
                daemon = MtpolicydDaemon(
                    command,
                    name,
                    Path(workdir) / name,
                    template,
                    {"memcached": memcached.address, "namespace": f"{name}-"},
                    None,
                )
                daemons[name] = daemon
                wait_until_answering(daemon.start())
            idle_rss = {name: process_group_rss_kib(d.pid or 0) for name, d in daemons.items()}
            load = run_load(daemons["python"], daemons["perl"], args)
            busy_rss = {name: process_group_rss_kib(d.pid or 0) for name, d in daemons.items()}
        finally:
            for daemon in daemons.values():
                daemon.stop()
            memcached.stop()
    summary = {
        "load_report": str(args.out / "load.json"),
        "comparison": load.get("comparison"),
        "rss_kib": {"idle": idle_rss, "after_load": busy_rss},
        "rss_ratio_python_to_perl": {
            phase: round(values["python"] / values["perl"], 3) if values["perl"] else None
            for phase, values in (("idle", idle_rss), ("after_load", busy_rss))
        },
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
