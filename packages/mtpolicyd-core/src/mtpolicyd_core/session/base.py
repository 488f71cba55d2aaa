"""The session cache interface every back-end implements."""

from __future__ import annotations

from typing import Protocol

from mtpolicyd_core.request import Session


class SessionCache(Protocol):
    """Lock, load, store-and-unlock the session of one mail (SPEC §3)."""

    async def retrieve(self, instance: str) -> Session:
        """Take the lock of ``instance`` and load its session (new: ``{"_instance": instance}``).

        Raises SessionLockError when the retries run out and SessionError when
        the back-end cannot be reached.
        """
        ...

    async def store(self, session: Session) -> None:
        """Store the session with its expiry and release its lock."""
        ...

    async def probe(self) -> None:
        """Read from the back-end once, to tell at start-up whether it answers; SessionError if not."""
        ...

    def reconnect(self) -> None:
        """Forget the parent's back-end clients (after fork)."""
        ...

    async def aclose(self) -> None:
        """Close back-end connections."""
        ...


class NoSessionCache:
    """Sessions live for one request only (``module = None``); no lock needed.

    As in the original, every request gets a fresh empty session, with or
    without ``instance``, so plugins that write to the session still work.
    """

    async def retrieve(self, instance: str | None) -> Session:
        """A fresh, empty session."""
        return {}

    async def store(self, session: Session) -> None:
        """Nothing is kept."""

    async def probe(self) -> None:
        """Nothing to reach."""

    def reconnect(self) -> None:
        """Nothing to re-open."""

    async def aclose(self) -> None:
        """Nothing to close."""
