"""A policy request: its attributes, the session of its mail and the look-ups started for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

Session = dict[str, Any]
T = TypeVar("T")
#: a look-up whose answer is kept in the session (a list, as the original caches lists)
Lookup = Callable[[], Awaitable[list[Any]]]


class NoSessionError(LookupError):
    """A plugin needs the session of the mail, but the request has none."""


@dataclass(frozen=True)
class Request:
    """One Postfix policy request; unknown attribute names are kept as sent.

    ``session`` is the mutable dict of the mail (``None`` without ``instance``
    or when the session cache failed and the chain runs without one).
    ``prefetched`` holds look-ups started before the chain ran (parallel DNS),
    by the session key their answer is cached under. ``notes`` is what a plugin tells a later one
    of the same request (never stored): Quota the rows it already counted for Accounting.
    """

    attributes: Mapping[str, str]
    session: Session | None = None
    use_caching: bool = True
    vhost_name: str = field(default="")
    prefetched: dict[str, asyncio.Task[Any]] = field(default_factory=dict, compare=False, repr=False)
    notes: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def attr(self, name: str) -> str | None:
        """The value of a request attribute, or None when not sent."""
        return self.attributes.get(name)

    @property
    def type(self) -> str | None:
        """The ``request`` attribute; Postfix always sends ``smtpd_access_policy``."""
        return self.attributes.get("request")

    @property
    def instance(self) -> str | None:
        """The ``instance`` attribute: one per mail, the session key."""
        return self.attributes.get("instance")

    def get(self, spec: str | None) -> Any:
        """A value by ``[scope:]name``: scope ``request``/``r`` (default) or ``session``/``s``."""
        if not spec:
            return None
        scope, sep, name = spec.partition(":")
        if not sep:
            scope, name = "request", spec
        if scope in ("session", "s"):
            return None if self.session is None else self.session.get(name)
        if scope in ("request", "r"):
            return self.attributes.get(name)
        raise ValueError(f"unknown scope {scope} while retrieving variable for {spec}")

    def require_session(self) -> Session:
        """The session, for plugins that write to it; fails the plugin when there is none.

        The original dies the same way when a request without ``instance`` has no session.
        """
        if self.session is None:
            raise NoSessionError("request has no session (no instance attribute or no session cache)")
        return self.session

    def cached(self, key: str) -> list[Any] | None:
        """The answer the session keeps under ``key`` for this mail, if any."""
        if self.session is None or not self.use_caching:
            return None
        value = self.session.get(key)
        return None if value is None else list(value)

    async def do_cached(self, key: str, compute: Lookup) -> list[Any]:
        """``compute()`` once per mail: the answer is kept in the session under ``key``.

        A look-up prefetched under ``key`` is awaited instead of starting another.
        """
        found = self.cached(key)
        if found is not None:
            return found
        value = list(await self.lookup(key, compute))
        if self.session is not None and self.use_caching:
            self.session[key] = value
        return value

    def prefetch(self, key: str, compute: Lookup) -> None:
        """Start ``compute()`` now, unless the session already has the answer under ``key``."""
        if self.cached(key) is None:
            self.start_lookup(key, compute)

    def start_lookup(self, key: str, compute: Callable[[], Awaitable[T]]) -> None:
        """Start ``compute()`` now; :meth:`lookup` with the same ``key`` takes its answer."""
        if key not in self.prefetched:
            self.prefetched[key] = asyncio.ensure_future(compute())

    async def lookup(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer of the look-up started under ``key``, else of ``compute()`` now."""
        started = self.prefetched.pop(key, None)
        if started is None:
            return await compute()
        return cast(T, await started)

    def cancel_prefetched(self) -> None:
        """Drop the look-ups started for plugins that did not run (the chain ended before them)."""
        for task in self.prefetched.values():
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a failed look-up nobody needed is not an error
            task.cancel()
        self.prefetched.clear()

    def is_already_done(self, key: str) -> bool:
        """Raise the one-shot flag ``key``; True when it was already raised for this mail."""
        if self.session is None or not self.use_caching:
            return False
        if self.session.get(key) is not None:
            return True
        self.session[key] = 1
        return False

    def is_attr_defined(self, *names: str) -> bool:
        """True when every named attribute is sent and not blank."""
        return all((self.attributes.get(name) or "").strip() != "" for name in names)

    def dump_attr(self) -> str:
        """The attributes as ``name=value, …`` for debug logs."""
        return ", ".join(f"{name}={value}" for name, value in self.attributes.items())
