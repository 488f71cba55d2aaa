"""Fault injection: ``policy-sim load`` against our daemon and the Perl original while faults happen;
how many requests went unanswered per fault class.

Usage: ``python -m integration.bench.faults [--duration S] [--concurrency N] [--out DIR] [--only CLASS,…]``.
Each (daemon, fault class) pair runs on a fresh daemon with its own memcached (sessions),
the config of ``integration/bench/scoring.conf``. Numbers are reported, never asserted.

Fault classes: ``none``; ``kill-worker`` (SIGKILL a random worker every 2 s); ``stop-memcached``
(SIGSTOP memcached for 2 s every 5 s); ``hup`` (SIGHUP the master every 3 s); ``max-requests``
(``max_requests = 20``: workers retire all the time).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from integration.bench.measure import wait_until_answering
from integration.fixtures.daemons import MtpolicydDaemon, perl_mtpolicyd_argv, python_mtpolicyd_argv
from integration.fixtures.memcached import MemcachedServer
from integration.server.daemon_helpers import children

HERE = Path(__file__).parent
Injector = Callable[[MtpolicydDaemon, MemcachedServer, random.Random], None]


def kill_worker(daemon: MtpolicydDaemon, memcached: MemcachedServer, rng: random.Random) -> None:
    """SIGKILL one worker of the master."""
    workers = sorted(children(daemon.pid or 0))
    if workers:
        os.kill(rng.choice(workers), signal.SIGKILL)


def stop_memcached(daemon: MtpolicydDaemon, memcached: MemcachedServer, rng: random.Random) -> None:
    """Stop memcached (not dead: it holds its connections and answers nothing) for two seconds."""
    pid = memcached.process.pid
    if pid:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(2)
        os.kill(pid, signal.SIGCONT)


def hup(daemon: MtpolicydDaemon, memcached: MemcachedServer, rng: random.Random) -> None:
    """Reload the configuration."""
    os.kill(daemon.pid or 0, signal.SIGHUP)


#: fault class → (seconds between faults, injector, extra config settings)
FAULTS: dict[str, tuple[float, Injector | None, str]] = {
    "none": (0.0, None, ""),
    "kill-worker": (2.0, kill_worker, ""),
    "stop-memcached": (5.0, stop_memcached, ""),
    "hup": (3.0, hup, ""),
    "max-requests": (0.0, None, "max_requests = 20\n"),
}


def inject(daemon: MtpolicydDaemon, memcached: MemcachedServer, fault: str, stop: threading.Event) -> int:
    """Run the fault class's injector until ``stop``; how many faults it caused."""
    every, injector, _ = FAULTS[fault]
    rng = random.Random(1)
    count = 0
    if injector is None:
        return 0
    while not stop.wait(every):
        injector(daemon, memcached, rng)
        count += 1
    return count


def run_one(kind: str, fault: str, workdir: Path, args: argparse.Namespace) -> dict[str, object]:
    """One daemon under one fault class: the load report's error figures."""
    argv = python_mtpolicyd_argv() if kind == "python" else perl_mtpolicyd_argv()
    template = FAULTS[fault][2] + (HERE / "scoring.conf").read_text()
    memcached = MemcachedServer(workdir).start()
    daemon = MtpolicydDaemon(
        argv, kind, workdir / kind, template, {"memcached": memcached.address, "namespace": f"{kind}-"}, None
    )
    report = args.out / f"{kind}-{fault}.json"
    try:
        wait_until_answering(daemon.start())
        stop = threading.Event()
        faults: list[int] = []
        injector = threading.Thread(target=lambda: faults.append(inject(daemon, memcached, fault, stop)))
        injector.start()
        command = [
            str(Path(sys.executable).parent / "policy-sim"),
            "load",
            "--quiet",
            "--duration",
            str(args.duration),
            "--concurrency",
            str(args.concurrency),
            "--target",
            f"{daemon.host}:{daemon.port}",
            "--report-json",
            str(report),
            "--report-html",
            str(args.out / f"{kind}-{fault}.html"),
        ]
        subprocess.run(command, check=False, timeout=args.duration * 4 + 120)
        stop.set()
        injector.join()
    finally:
        daemon.stop()
        memcached.stop()
    loaded = json.loads(report.read_text())
    run = loaded["results"][0]
    errors = run["errors"]
    return {
        "daemon": kind,
        "fault": fault,
        "faults_injected": faults[0] if faults else 0,
        "requests": run["requests"],
        "unanswered": errors["unanswered"],
        "failed_attempts": errors["failed_attempts"],
    }


def table(results: list[dict[str, object]]) -> str:
    """A Markdown table: one row per fault class, both daemons side by side."""
    rows = [
        "| fault | faults | ours: requests / unanswered / failed attempts |"
        " Perl: requests / unanswered / failed attempts |",
        "|---|---|---|---|",
    ]
    by_key = {(str(result["daemon"]), str(result["fault"])): result for result in results}
    for fault in dict.fromkeys(str(result["fault"]) for result in results):
        cells = []
        for kind in ("python", "perl"):
            result = by_key.get((kind, fault))
            cells.append(
                "-"
                if result is None
                else f"{result['requests']} / {result['unanswered']} / {result['failed_attempts']}"
            )
        injected = max(int(str(by_key[key]["faults_injected"])) for key in by_key if key[1] == fault)
        rows.append(f"| {fault} | {injected} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Every fault class against both daemons; writes ``faults.json`` and ``faults.md`` to ``--out``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per run")
    parser.add_argument("--concurrency", type=int, default=16, help="simulated smtpd processes")
    parser.add_argument("--out", type=Path, default=Path("fault-results"), help="report directory")
    parser.add_argument("--only", default=",".join(FAULTS), help="fault classes, comma-separated")
    parser.add_argument("--daemons", default="python,perl", help="python, perl or both")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for fault in args.only.split(","):
        for kind in args.daemons.split(","):
            with tempfile.TemporaryDirectory(prefix=f"mtpolicyd-faults-{kind}-") as workdir:
                result = run_one(kind, fault, Path(workdir), args)
            print(json.dumps(result), flush=True)
            results.append(result)
    (args.out / "faults.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "faults.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
