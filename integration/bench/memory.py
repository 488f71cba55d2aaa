"""Resident memory of a daemon: the sum over its process group, from /proc."""

from __future__ import annotations

from pathlib import Path


def process_group_rss_kib(pgid: int) -> int:
    """Sum of VmRSS (KiB) of every process in process group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # the process went away while we looked
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total
