"""A policy request: its attributes and the session of its mail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Session = dict[str, Any]


class NoSessionError(LookupError):
    """A plugin needs the session of the mail, but the request has none."""


@dataclass(frozen=True)
class Request:
    """One Postfix policy request; unknown attribute names are kept as sent.

    ``session`` is the mutable dict of the mail (``None`` without ``instance``
    or when the session cache failed and the chain runs without one).
    """

    attributes: Mapping[str, str]
    session: Session | None = None
    use_caching: bool = True
    vhost_name: str = field(default="")

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

    def do_cached(self, key: str, compute: Callable[[], list[Any]]) -> list[Any]:
        """``compute()`` once per mail: the result is kept in the session under ``key``."""
        if self.session is None or not self.use_caching:
            return compute()
        if self.session.get(key) is None:
            self.session[key] = list(compute())
        cached: list[Any] = self.session[key]
        return cached

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
