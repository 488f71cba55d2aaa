"""One load window on one daemon: ``policy-sim load`` plus the daemon's CPU time and memory around it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from integration.bench.cpu import machine_cpu_seconds, process_group_cpu_seconds
from integration.bench.memory import PssSampler, process_group_pss_kib, process_group_rss_kib
from integration.bench.scenarios import REUSE_LIMIT
from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.delayed_dns import DelayedDns

POLICY_SIM = str(Path(sys.executable).parent / "policy-sim")
#: seconds policy-sim may run beyond its duration (in-flight requests, its own 100 s timeout)
LOAD_GRACE = 150.0
PROBE = {"request": "smtpd_access_policy", "instance": "bench-probe", "client_address": "192.0.2.1"}


@dataclass(frozen=True)
class LoadShape:
    """What every window runs: the same for both daemons."""

    duration: float
    warmup: float
    seed: int = 1
    mails: int = 500


@dataclass(frozen=True)
class Measurement:
    """The numbers of one window (latencies in ms, CPU in seconds, memory in KiB)."""

    scenario: str
    variant: str
    daemon: str
    connections: int
    elapsed_s: float
    requests: int
    throughput_rps: float
    throughput_rps_overall: float
    p50_ms: float
    p99_ms: float
    unanswered: int
    failed_attempts: int
    cpu_s: float
    cpu_us_per_request: float | None
    dns_queries: int | None
    cpu_us_per_dns_query: float | None
    pss_kib_end: int
    pss_kib_max: int
    rss_kib_end: int
    client_cpu_s: float
    dns_front_cpu_s: float | None
    machine_busy_cores: float
    other_busy_cores: float
    report: str
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """For the JSON summary."""
        return asdict(self)


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


def policy_sim_load(
    daemon: MtpolicydDaemon, connections: int, duration: float, shape: LoadShape, report: Path
) -> dict[str, Any]:
    """Closed loop: ``connections`` simulated smtpd processes, ``REUSE_LIMIT`` requests per connection."""
    command = [
        POLICY_SIM, "load", "--quiet", "--duration", str(duration), "--concurrency", str(connections),
        "--reuse-limit", str(REUSE_LIMIT), "--seed", str(shape.seed), "--mails", str(shape.mails),
        "--target", f"{daemon.host}:{daemon.port}", "--report-json", str(report), "--report-html", "",
    ]  # fmt: skip
    # a window that hangs (a back-end gone) ends, at the latest, when the clients would have given up
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=duration + LOAD_GRACE)
    document: dict[str, Any] = json.loads(report.read_text())
    return document


def window_throughput(result: dict[str, Any], duration: float) -> float:
    """Requests answered per second within the load window (policy-sim's whole seconds before its
    deadline): requests still queued at the deadline, answered later, do not stretch the window."""
    seconds = max(1, int(duration))
    answered = sum(int(second["requests"]) for second in result["timeline"] if int(second["t"]) < seconds)
    return round(answered / seconds, 3)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    scenario: str,
    variant: str,
    daemon_kind: str,
    daemon: MtpolicydDaemon,
    connections: int,
    shape: LoadShape,
    dns: DelayedDns | None,
    out: Path,
) -> Measurement:
    """Warm up, then run one window and read CPU, PSS and DNS counters around it."""
    pgid = daemon.pid or 0
    name = f"{scenario}-{variant}-{connections}"
    notes = []
    if dns is not None and not dns.upstream.process.running():
        notes.append("rbldnsd had exited before the window: restarted")
        dns.upstream.start()
    if shape.warmup > 0:
        policy_sim_load(daemon, connections, shape.warmup, shape, out / f"warmup-{name}.json")
    dns_before = dns.status() if dns else None
    client_before = _children_cpu_seconds()
    cpu_before = process_group_cpu_seconds(pgid)
    machine_before = machine_cpu_seconds()
    with PssSampler(pgid) as sampler:
        report = policy_sim_load(daemon, connections, shape.duration, shape, out / f"load-{name}.json")
        pss_end = process_group_pss_kib(pgid)
        rss_end = process_group_rss_kib(pgid)
    cpu = process_group_cpu_seconds(pgid) - cpu_before
    machine_after = machine_cpu_seconds()
    machine_busy, machine_total = machine_after[0] - machine_before[0], machine_after[1] - machine_before[1]
    wall = machine_total / (os.cpu_count() or 1)  # seconds the window lasted
    client_cpu = _children_cpu_seconds() - client_before
    dns_after = dns.status() if dns else None
    if dns is not None and not dns.upstream.process.running():
        notes.append("rbldnsd exited during the window: the numbers are not valid")
    if requests_failed := int(report["results"][0]["errors"]["unanswered"]):
        notes.append(f"{requests_failed} requests unanswered")
    result = report["results"][0]
    requests = int(result["requests"])
    queries = (
        None if dns_before is None or dns_after is None else dns_after["received"] - dns_before["received"]
    )
    front_cpu = None if dns_before is None or dns_after is None else dns_after["cpu_s"] - dns_before["cpu_s"]
    return Measurement(
        scenario=scenario,
        variant=variant,
        daemon=daemon_kind,
        connections=connections,
        elapsed_s=float(result["elapsed_s"]),
        requests=requests,
        throughput_rps=window_throughput(result, shape.duration),
        throughput_rps_overall=float(result["throughput_rps"]),
        p50_ms=float(result["latency_ms"]["p50"]),
        p99_ms=float(result["latency_ms"]["p99"]),
        unanswered=int(result["errors"]["unanswered"]),
        failed_attempts=int(result["errors"]["failed_attempts"]),
        cpu_s=round(cpu, 3),
        cpu_us_per_request=round(cpu * 1e6 / requests, 1) if requests else None,
        dns_queries=queries,
        cpu_us_per_dns_query=round(cpu * 1e6 / queries, 1) if queries else None,
        pss_kib_end=pss_end,
        pss_kib_max=max(sampler.max_kib, pss_end),
        rss_kib_end=rss_end,
        client_cpu_s=round(client_cpu, 3),
        dns_front_cpu_s=None if front_cpu is None else round(front_cpu, 3),
        machine_busy_cores=round(machine_busy / wall, 2) if wall else 0.0,
        other_busy_cores=round(max(0.0, machine_busy - cpu - client_cpu - (front_cpu or 0.0)) / wall, 2)
        if wall
        else 0.0,
        report=str(out / f"load-{name}.json"),
        notes=tuple(notes),
    )
