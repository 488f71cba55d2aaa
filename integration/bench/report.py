"""The benchmark's report: rows pairing our daemon with Perl, the rewrite's targets, Markdown and JSON."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.bench.measure import Measurement
from integration.bench.scenarios import COMMON_SETTINGS, REUSE_LIMIT, Scenario, Variant


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a scenario, one of our variants, a connection count, both runs."""

    scenario: Scenario
    variant: Variant
    connections: int
    perl: Measurement | None
    ours: Measurement | None

    @property
    def key(self) -> str:
        """``scenario:variant@connections``."""
        return f"{self.scenario.name}:{self.variant.key}@{self.connections}"

    @property
    def title(self) -> str:
        """The chain column."""
        return self.scenario.title_for(self.variant)

    @property
    def short_title(self) -> str:
        """Scenario name, our variant if there are several, connections: ``rbl4 (ours, …) @16``."""
        variant = f" ({self.variant.label})" if len(self.scenario.ours) > 1 else ""
        return f"{self.scenario.name}{variant} @{self.connections}"

    def ratio(self, attribute: str) -> float | None:
        """ours ÷ Perl for a Measurement attribute; None when either is missing or Perl's is 0."""
        if self.perl is None or self.ours is None:
            return None
        perl, ours = getattr(self.perl, attribute), getattr(self.ours, attribute)
        if perl in (None, 0) or ours is None:
            return None
        return float(ours) / float(perl)

    def as_dict(self) -> dict[str, Any]:
        """For the JSON summary."""
        ratios = {
            name: None if (value := self.ratio(name)) is None else round(value, 3)
            for name in ("throughput_rps", "p50_ms", "p99_ms", "cpu_us_per_request", "cpu_us_per_dns_query",
                         "pss_kib_end", "pss_kib_max")
        }  # fmt: skip
        return {
            "key": self.key,
            "chain": self.title,
            "connections": self.connections,
            "perl": self.perl.as_dict() if self.perl else None,
            "ours": self.ours.as_dict() if self.ours else None,
            "ours_to_perl": ratios,
        }


def build_rows(scenarios: Sequence[Scenario], measurements: Sequence[Measurement]) -> list[Row]:
    """Pair every measurement of our daemon with Perl's of the same scenario and connection count."""
    found = {(m.scenario, m.variant, m.connections): m for m in measurements}
    rows = []
    for scenario in scenarios:
        perl = next(variant for variant in scenario.variants if variant.daemon == "perl")
        for variant in scenario.ours:
            for connections in scenario.connections:
                perl_run = found.get((scenario.name, perl.key, connections))
                ours_run = found.get((scenario.name, variant.key, connections))
                rows.append(Row(scenario, variant, connections, perl_run, ours_run))
    return rows


# -- targets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetResult:
    """A target of the rewrite (issue #8) checked against this run: PASS, FAIL or ``not run``."""

    text: str
    verdict: str
    measured: str


Check = Callable[[Row], tuple[bool, str]]


def _rps_at_least(factor: float) -> Check:
    def check(row: Row) -> tuple[bool, str]:
        ratio = row.ratio("throughput_rps") or 0.0
        return ratio >= factor, f"{ratio:.2f}x Perl req/s"

    return check


def _p99_not_above_perl(row: Row) -> tuple[bool, str]:
    assert row.perl is not None and row.ours is not None
    return (
        row.ours.p99_ms <= row.perl.p99_ms,
        f"p99 {row.ours.p99_ms:.1f} ms vs Perl {row.perl.p99_ms:.1f} ms",
    )


def _all(*checks: Check) -> Check:
    def check(row: Row) -> tuple[bool, str]:
        results = [one(row) for one in checks]
        return all(ok for ok, _ in results), ", ".join(text for _, text in results)

    return check


def _rps_at_least_absolute(minimum: float) -> Check:
    def check(row: Row) -> tuple[bool, str]:
        assert row.ours is not None
        return row.ours.throughput_rps >= minimum, f"{row.ours.throughput_rps:.0f} req/s (≥ {minimum:.0f})"

    return check


def _ours_at_most(attribute: str, limit: float, name: str) -> Check:
    def check(row: Row) -> tuple[bool, str]:
        value = float(getattr(row.ours, attribute))
        return value <= limit, f"{name} {value:.1f} ms"

    return check


def _ratio_at_most(attribute: str, limit: float, name: str) -> Check:
    def check(row: Row) -> tuple[bool, str]:
        ratio = row.ratio(attribute)
        if ratio is None:
            return False, f"{name}: not measured"
        return ratio <= limit, f"{name} {ratio:.0%} of Perl's"

    return check


@dataclass(frozen=True)
class Target:
    """A target: which rows (by predicate) it applies to, and the check each must pass."""

    text: str
    applies: Callable[[Row], bool]
    check: Check


def _row(scenario: str, variant: str, connections: int) -> Callable[[Row], bool]:
    return lambda row: (
        (row.scenario.name, row.variant.key, row.connections) == (scenario, variant, connections)
    )


def _candidate(row: Row) -> bool:
    """Rows where our daemon runs as the rewrite is meant to (not the run without parallel_dns)."""
    return row.variant.key != "ours" or len(row.scenario.ours) == 1


TARGETS = (
    Target("one RBL look-up, 20 ms: ≥ 2.5x Perl req/s at 64 connections", _row("rbl", "ours", 64),
           _rps_at_least(2.5)),
    Target("one RBL look-up, 20 ms, 16 connections: ≥ 90 % of the latency bound (16 ÷ 20 ms = 800 req/s), "
           "p99 ≤ Perl's", _row("rbl", "ours", 16), _all(_rps_at_least_absolute(720), _p99_not_above_perl)),
    Target("four look-ups, 5 ms, parallel_dns = on, 16 connections: ≥ 3x Perl req/s, p50 ≤ 10 ms "
           "(2 round trips)", _row("rbl4", "ours-parallel", 16),
           _all(_rps_at_least(3), _ours_at_most("p50_ms", 10, "p50"))),
    Target("scoring chain, 16 connections: ≥ 3x Perl req/s, p99 ≤ Perl's", _row("scoring", "ours", 16),
           _all(_rps_at_least(3), _p99_not_above_perl)),
    Target("scoring chain, 64 connections: p99 ≤ 50 ms", _row("scoring", "ours", 64),
           _ours_at_most("p99_ms", 50, "p99")),
    Target("minimal chain, 16 connections: ≥ 2x Perl req/s", _row("minimal", "ours", 16), _rps_at_least(2)),
    Target("daemon CPU per DNS look-up ≤ 40 % of Perl's (every DNS row)",
           lambda row: row.scenario.lookups_per_request > 0 and _candidate(row),
           _ratio_at_most("cpu_us_per_dns_query", 0.40, "CPU/look-up")),
    Target("total PSS (peak during the load) ≤ 50 % of Perl's (every row)", _candidate,
           _ratio_at_most("pss_kib_max", 0.50, "PSS")),
)  # fmt: skip


def check_targets(rows: Sequence[Row]) -> list[TargetResult]:
    """Each target's verdict from the rows it applies to (all must pass); ``not run`` without rows."""
    results = []
    for target in TARGETS:
        relevant = [row for row in rows if target.applies(row) and row.perl and row.ours]
        if not relevant:
            results.append(TargetResult(target.text, "not run", "—"))
            continue
        checked = [(row, *target.check(row)) for row in relevant]
        verdict = "PASS" if all(ok for _, ok, _ in checked) else "FAIL"
        if len(checked) == 1:
            measured = checked[0][2]
        else:
            measured = "; ".join(f"{row.scenario.name}@{row.connections}: {text}" for row, _, text in checked)
        results.append(TargetResult(target.text, verdict, measured))
    return results


# -- machine ------------------------------------------------------------------------------------------


def _command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def perl_version() -> str:
    """The Debian package version of the Perl mtpolicyd, e.g. ``2.05-1.1``."""
    return _command_output(["dpkg-query", "-W", "-f", "${Version}", "mtpolicyd"]) or "unknown"


def machine() -> dict[str, Any]:
    """Where the numbers come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    debian = Path("/etc/debian_version")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "kernel": platform.release(),
        "debian": debian.read_text().strip() if debian.exists() else None,
        "python": platform.python_version(),
        "perl_mtpolicyd": perl_version(),
    }


# -- output -------------------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.0f}"


def _field(measured: Measurement | None, name: str) -> Any:
    return None if measured is None else getattr(measured, name)


def comparison_table(rows: Sequence[Row], perl_label: str) -> str:
    """The issue's table, plus CPU per request and PSS with their ratios."""
    lines = [
        f"| chain | conns | {perl_label} req/s | ours req/s | ours/Perl | p99 ours/Perl "
        "| CPU µs/req Perl | CPU µs/req ours | ours/Perl | PSS MiB Perl | PSS MiB ours | ours/Perl |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        perl, ours = row.perl, row.ours
        lines.append(
            f"| {row.title} | {row.connections} "
            f"| {_number(_field(perl, 'throughput_rps'))} | {_number(_field(ours, 'throughput_rps'))} "
            f"| {_ratio(row.ratio('throughput_rps'))} | {_ratio(row.ratio('p99_ms'))} "
            f"| {_number(_field(perl, 'cpu_us_per_request'))} "
            f"| {_number(_field(ours, 'cpu_us_per_request'))} "
            f"| {_ratio(row.ratio('cpu_us_per_request'))} "
            f"| {_mib(_field(perl, 'pss_kib_max'))} | {_mib(_field(ours, 'pss_kib_max'))} "
            f"| {_ratio(row.ratio('pss_kib_max'))} |"
        )
    return "\n".join(lines) + "\n"


def detail_table(scenarios: Sequence[Scenario], measurements: Sequence[Measurement]) -> str:
    """Every window's absolute numbers."""
    lines = [
        "| chain | conns | daemon | req/s | p50 ms | p99 ms | unanswered / failed attempts | CPU µs/req "
        "| CPU µs/DNS query | PSS MiB end / max | client CPU s | DNS front CPU s | machine busy cores "
        "| other busy cores | notes |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for scenario in scenarios:
        labels = {variant.key: variant.label for variant in scenario.variants}
        for m in (m for m in measurements if m.scenario == scenario.name):
            lines.append(
                f"| {scenario.title} | {m.connections} | {labels.get(m.variant, m.variant)} "
                f"| {_number(m.throughput_rps)} | {_number(m.p50_ms, 1)} | {_number(m.p99_ms, 1)} "
                f"| {m.unanswered} / {m.failed_attempts} | {_number(m.cpu_us_per_request)} "
                f"| {_number(m.cpu_us_per_dns_query)} | {_mib(m.pss_kib_end)} / {_mib(m.pss_kib_max)} "
                f"| {_number(m.client_cpu_s, 1)} | {_number(m.dns_front_cpu_s, 1)} "
                f"| {m.machine_busy_cores:.2f} | {m.other_busy_cores:.2f} | {'; '.join(m.notes)} |"
            )
    return "\n".join(lines) + "\n"


def targets_list(results: Sequence[TargetResult]) -> str:
    """PASS/FAIL per target, as a report (nothing here fails the run)."""
    lines = ["| target | verdict | measured |", "|---|---|---|"]
    lines += [f"| {result.text} | **{result.verdict}** | {result.measured} |" for result in results]
    return "\n".join(lines) + "\n"


def results_markdown(
    rows: Sequence[Row],
    scenarios: Sequence[Scenario],
    measurements: Sequence[Measurement],
    targets: Sequence[TargetResult],
    run: dict[str, Any],
    plot_name: str,
) -> str:
    """The results section: when, where, how; the tables, the targets and the plot."""
    info = run["machine"]
    perl_label = f"Perl {info['perl_mtpolicyd'].split('-')[0]}"
    disturbed = [m for m in measurements if m.other_busy_cores >= 0.25 * (info["nproc"] or 1)]
    warning = ""
    if disturbed:
        warning = (
            f"\n**Other work kept at least a quarter of the machine busy** during {len(disturbed)} of "
            f'{len(measurements)} windows (see "other busy cores" below): those numbers measure that '
            "contention as much as the daemons. Rerun on a quiet machine before drawing conclusions.\n"
        )
    return f"""## Results

Measured {run["date"]} on {info["nproc"]} cores, {info["cpu_model"]} (Linux {info["kernel"]}, Debian
{info["debian"]}, Python {info["python"]}, Perl mtpolicyd {info["perl_mtpolicyd"]}); {run["duration_s"]:g} s
of load per window after {run["warmup_s"]:g} s of warm-up; load average when the run started:
{" / ".join(f"{value:g}" for value in run["load_average_at_start"])} (1 / 5 / 15 min). Reproduce with:

```sh
{run["command"]}
```
{warning}
{comparison_table(rows, perl_label)}
Ratios are ours ÷ Perl from the same run: above 1 is better for req/s, below 1 is better for p99, CPU
and PSS. PSS is the peak sampled during the load (every second and at its end), summed over the
daemon's process group.

![req/s and p99 per scenario, Perl and ours]({plot_name})

### Targets of the rewrite (issue #8)

{targets_list(targets)}
### Every window

{detail_table(scenarios, measurements)}
"""


#: how it is measured: the part of docs/performance.md that does not change from run to run
DOC_HEAD = Path(__file__).with_name("performance-head.md")


def performance_doc(results: str) -> str:
    """The whole docs/performance.md: how it is measured, then this run's results."""
    settings = "\n  ".join(line for line in COMMON_SETTINGS.splitlines() if line)
    return (
        DOC_HEAD.read_text().replace("{reuse}", str(REUSE_LIMIT)).replace("{settings}", settings)
        + "\n"
        + results
    )


def run_info(argv: Sequence[str], duration: float, warmup: float) -> dict[str, Any]:
    """Date, machine and the command that reproduces the run."""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": "tox -e bench -- " + " ".join(argv) if argv else "tox -e bench",
        "duration_s": duration,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "warmup_s": warmup,
    }
