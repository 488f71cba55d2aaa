"""A worker's status shared with the master: heartbeat, state, requests served, open connections.

Each worker gets a tiny anonymous shared memory page, mapped by the master
before the fork. The worker writes, the master only reads: no locks and no
system call per request (a torn read is harmless, the next tick re-reads).
"""

from __future__ import annotations

import enum
import mmap
import struct
import time

# heartbeat (monotonic seconds), state, requests served, open connections
_LAYOUT = struct.Struct("=dIII")


class WorkerState(enum.IntEnum):
    """What a worker is doing, as the master counts it for spares."""

    IDLE = 0
    BUSY = 1
    DRAINING = 2


class WorkerStatus:
    """The shared status page of one worker."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_SHARED)
        self._state = WorkerState.IDLE
        self._requests = 0
        self._connections = 0
        self.beat()
        # the master's view: the heartbeat value it last saw, and when (by its own clock)
        self._seen_beat = self._heartbeat()
        self._seen_at = time.monotonic()

    def _write(self) -> None:
        _LAYOUT.pack_into(self._page, 0, time.monotonic(), self._state, self._requests, self._connections)

    @property
    def state(self) -> WorkerState:
        """The state this process last published (the worker's own view)."""
        return self._state

    def beat(self) -> None:
        """Prove liveness (the worker's loop calls this at least once a second)."""
        self._write()

    def set_state(self, state: WorkerState) -> None:
        """Publish a new state (and beat)."""
        self._state = state
        self._write()

    def count_request(self) -> int:
        """One more request served; the new total."""
        self._requests += 1
        self._write()
        return self._requests

    def set_connections(self, count: int) -> None:
        """Publish how many client connections the worker holds open."""
        self._connections = count
        self._write()

    def read(self) -> tuple[float, WorkerState, int]:
        """Heartbeat age in seconds, state and requests served, as last written by the worker."""
        heartbeat, state, requests, _ = _LAYOUT.unpack_from(self._page, 0)
        return time.monotonic() - heartbeat, WorkerState(state), requests

    def _heartbeat(self) -> float:
        heartbeat: float = _LAYOUT.unpack_from(self._page, 0)[0]
        return heartbeat

    def silent_for(self) -> float:
        """Master side: seconds, on the master's clock, since the heartbeat was last seen to change.

        Only a change counts as a beat, whatever value the page holds, so no value read from it
        (a torn or zeroed read included) can make a live worker look silent for longer than it was.
        """
        heartbeat, now = self._heartbeat(), time.monotonic()
        if heartbeat != self._seen_beat:
            self._seen_beat, self._seen_at = heartbeat, now
        return now - self._seen_at

    def open_connections(self) -> int:
        """Client connections the worker holds open, as last written by the worker."""
        connections: int = _LAYOUT.unpack_from(self._page, 0)[3]
        return connections

    def close(self) -> None:
        """Unmap the page (the master does this when the worker is reaped)."""
        self._page.close()
