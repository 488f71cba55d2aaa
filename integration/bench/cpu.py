"""CPU time a daemon used: every process of its group, workers that already exited included."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid_dir: Path) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (field 3 onwards)."""
    return (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()


def process_group_cpu_seconds(pgid: int) -> float:
    """User and system CPU seconds of process group ``pgid`` so far.

    For each process of the group: ``utime + stime`` (its own) plus ``cutime + cstime`` (its children
    it has waited for). The master's children are the workers, so a worker that exited and was reaped
    during a run still counts, through the master; a live worker counts through its own fields.
    """
    ticks = 0
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            fields = _stat_fields(pid_dir)
        except (OSError, IndexError):
            continue  # the process went away while we looked
        if int(fields[2]) != pgid:
            continue
        # fields[11:15]: utime, stime, cutime, cstime (stat fields 14-17)
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (``/proc/stat``)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # user … steal; guest time is already in user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS
