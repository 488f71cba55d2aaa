"""Two daemons on one shared back-end, driven at once by ``policy-sim load`` with two ``--target``s.

Usage: ``python -m integration.bench.fleet [--sessions Redis|Memcached|both] [--duration S]
[--concurrency N] [--out DIR]``. Starts a Redis Cluster (3 + 3), three memcached and MariaDB, then
per session back-end: one daemon alone, and two daemons (mx1, mx2) sharing everything; prints per
target and total req/s and p99, as docs/scale-out.md reports them. Numbers are reported, not asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from policy_sim.cli import main as policy_sim
from policy_sim.generate import GeneratorSettings, StageSpec, generate_document
from policy_sim.trace.writer import write_document

from integration.bench.measure import wait_until_answering
from integration.fixtures.config_text import (
    DATA_SCORE,
    RCPT_SCORE,
    SHOW_SCORE,
    quota_and_accounting,
    session_cache,
    shared_connections,
    vhost,
    workers,
)
from integration.fixtures.daemons import MtpolicydDaemon, python_mtpolicyd_argv
from integration.fixtures.mariadb import MariaDBServer
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.redis_cluster import RedisClusterServers

#: sessions (every RCPT adds 1, DATA 2), greylisting tickets in memcached, accounting in MariaDB
FLEET_CONFIG = (
    workers(4, 8, spares=(2, 6))
    + shared_connections()
    + session_cache("{sessions}", failure_mode="action")
    + vhost("port", "reputation", RCPT_SCORE, SHOW_SCORE)
    + vhost("port2", "accounting", DATA_SCORE, quota_and_accounting(1000000000))
)
STAGES = (
    StageSpec("RCPT", "reputation", score=1, expect_score=True),
    StageSpec("DATA", "accounting", score=2),
    StageSpec("END-OF-MESSAGE", "reputation", expect_score=True),
)


@contextlib.contextmanager
def shared_backends(workdir: Path) -> Iterator[dict[str, str]]:
    """The cluster, three memcached and MariaDB, as config template values."""
    with contextlib.ExitStack() as stack:
        cluster = RedisClusterServers(workdir / "cluster").start()
        stack.callback(cluster.stop)
        memcached = []
        for _ in range(3):
            server = MemcachedServer(workdir).start()
            stack.callback(server.stop)
            memcached.append(server)
        (workdir / "mariadb").mkdir()
        mariadb = MariaDBServer(workdir / "mariadb").start()
        stack.callback(mariadb.stop)
        yield {
            "cluster": cluster.startup_nodes,
            "memcached": ", ".join(server.address for server in memcached),
            "dsn": mariadb.dsn,
            "db_user": mariadb.user,
            "db_password": mariadb.password,
        }


@contextlib.contextmanager
def daemons(workdir: Path, count: int, values: dict[str, str]) -> Iterator[list[MtpolicydDaemon]]:
    """``count`` daemons of FLEET_CONFIG, answering."""
    with contextlib.ExitStack() as stack:
        started = []
        for number in range(1, count + 1):
            name = f"mx{number}"
            daemon = MtpolicydDaemon(
                python_mtpolicyd_argv(), name, workdir / name, FLEET_CONFIG, values, None
            )
            stack.callback(daemon.stop)
            wait_until_answering(daemon.start())
            started.append(daemon)
        yield started


def target(name: str, daemon: MtpolicydDaemon) -> str:
    reputation, accounting = daemon.ports
    return f"{name}=reputation={daemon.host}:{reputation},accounting={daemon.host}:{accounting}"


def load(
    trace: Path, hosts: list[MtpolicydDaemon], duration: float, concurrency: int, out: Path
) -> dict[str, Any]:
    """One ``policy-sim load`` run over ``hosts`` at once; its report."""
    argv = ["load", str(trace), "--duration", str(duration), "--concurrency", str(concurrency), "-q"]
    for number, daemon in enumerate(hosts, 1):
        argv += ["--target", target(f"mx{number}", daemon) if len(hosts) > 1 else target("", daemon)[1:]]
    argv += ["--report-json", str(out)]
    status = policy_sim(argv)
    if status not in (0, 1):
        raise RuntimeError(f"policy-sim load exited with {status}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def rows(label: str, report: dict[str, Any]) -> list[str]:
    """Markdown table rows: each target, then the total."""
    [total] = report["results"]
    lines = []
    figures = [*total["targets"], {**total, "label": "total"}] if len(total["targets"]) > 1 else [total]
    for figure in figures:
        name = figure["label"] if figure is not total else "alone"
        latency = figure["latency_ms"]
        lines.append(
            f"| {label} | {name} | {figure['requests']} | {figure['throughput_rps']:.0f} |"
            f" {latency['p50']:.1f} | {latency['p99']:.1f} | {figure['errors']['unanswered']} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.bench.fleet", description=__doc__)
    parser.add_argument("--sessions", choices=("Redis", "Memcached", "both"), default="both")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8, help="simulated smtpd processes per host")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    out = args.out or workdir
    out.mkdir(parents=True, exist_ok=True)
    traces = {}
    for count in (1, 2):  # one host: a plain trace; two: a fleet trace spreading mails over mx1, mx2
        traces[count] = out / f"hosts-{count}.yaml"
        settings = GeneratorSettings(
            mails=2000, seed=11, hosts=count, services={"reputation": "", "accounting": ""}, stages=STAGES
        )
        write_document(generate_document(settings), str(traces[count]))
    table = [
        "| sessions | target | requests | req/s | p50 ms | p99 ms | unanswered |",
        "|---|---|---|---|---|---|---|",
    ]
    kinds = ["Redis", "Memcached"] if args.sessions == "both" else [args.sessions]
    with shared_backends(workdir) as values:
        for sessions in kinds:
            label = "Redis Cluster" if sessions == "Redis" else "memcached pool (3)"
            for count in (1, 2):
                run_dir = workdir / f"{sessions}-{count}"
                with daemons(run_dir, count, {**values, "sessions": sessions}) as hosts:
                    report = load(
                        traces[count],
                        hosts,
                        args.duration,
                        args.concurrency,
                        out / f"{sessions}-{count}.json",
                    )
                table += rows(label, report)
                print("\n".join(table[-3 if count == 2 else -1 :]), flush=True)
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
