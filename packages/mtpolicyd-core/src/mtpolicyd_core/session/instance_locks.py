"""In-process locks per mail, so requests of one mail in one worker queue up instead of polling.

Requests of the same mail that arrive together on one worker (several
recipients, several ports) wait here for each other; only the one holding this
lock competes for the back-end lock, with the original's retry loop, against
other processes. A lock exists only while someone holds or awaits it.
"""

from __future__ import annotations

import asyncio


class InstanceLocks:
    """One asyncio.Lock per instance, dropped when nobody uses it any more."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, instance: str) -> None:
        """Wait for the instance's lock; cancelled waiting leaves no trace."""
        lock, users = self._locks.get(instance, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[instance] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._forget(instance)
            raise

    def release(self, instance: str) -> None:
        """Release the instance's lock (held by the caller)."""
        entry = self._locks.get(instance)
        if entry is None:
            return
        entry[0].release()
        self._forget(instance)

    def _forget(self, instance: str) -> None:
        lock, users = self._locks[instance]
        if users <= 1:
            del self._locks[instance]
        else:
            self._locks[instance] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
