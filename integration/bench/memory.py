"""Memory of a daemon: the sum over its process group, from /proc (RSS, and PSS that splits shared pages)."""

from __future__ import annotations

import threading
from pathlib import Path


def _group_members(pgid: int) -> list[Path]:
    """``/proc/PID`` of every process in process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                members.append(stat.parent)
        except (OSError, IndexError, ValueError):
            continue  # the process went away while we looked
    return members


def _field_kib(path: Path, name: str) -> int:
    """A ``Name:  N kB`` line of a /proc file; 0 when the process is gone."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(name):
            return int(line.split()[1])
    return 0


def process_group_rss_kib(pgid: int) -> int:
    """Sum of VmRSS (KiB) of every process in process group ``pgid`` (shared pages counted each time)."""
    return sum(_field_kib(member / "status", "VmRSS:") for member in _group_members(pgid))


def process_group_pss_kib(pgid: int) -> int:
    """Sum of Pss (KiB) from ``smaps_rollup`` of every process in process group ``pgid``: the group's
    share of memory, pages shared by forked workers split between them."""
    return sum(_field_kib(member / "smaps_rollup", "Pss:") for member in _group_members(pgid))


class PssSampler:
    """Samples a process group's PSS every ``interval`` seconds in a thread; ``stop()`` → (last, max)."""

    def __init__(self, pgid: int, interval: float = 1.0) -> None:
        self.pgid = pgid
        self.interval = interval
        self.samples: list[int] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pss-{pgid}", daemon=True)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.samples.append(process_group_pss_kib(self.pgid))

    @property
    def max_kib(self) -> int:
        """The largest PSS sampled so far."""
        return max(self.samples, default=0)
