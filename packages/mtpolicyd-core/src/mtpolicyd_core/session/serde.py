"""Sessions as JSON bytes: never pickle; unreadable content counts as a new session."""

from __future__ import annotations

import json
import logging
from typing import Any

from mtpolicyd_core.request import Session

log = logging.getLogger("mtpolicyd.session")


def _plain(value: Any) -> Any:
    """What JSON cannot hold natively is kept as its text (sets as sorted lists)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def dumps(session: Session) -> bytes:
    """The session as compact UTF-8 JSON; texts holding bytes that were not UTF-8 in the request
    (surrogate escapes) are written as ``\\u`` escapes, which ``loads`` gives back as they were."""
    try:
        return json.dumps(session, separators=(",", ":"), ensure_ascii=False, default=_plain).encode()
    except UnicodeEncodeError:
        return json.dumps(session, separators=(",", ":"), default=_plain).encode()


def loads(data: bytes | str | None, instance: str) -> Session | None:
    """The stored session of ``instance``, or None when absent or unreadable (logged)."""
    if data is None:
        return None
    try:
        session = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        log.warning("instance=%s: ignoring unreadable session (%s); starting a new one", instance, error)
        return None
    if not isinstance(session, dict):
        log.warning("instance=%s: ignoring a stored session that is not a mapping; starting anew", instance)
        return None
    session["_instance"] = instance
    return session
