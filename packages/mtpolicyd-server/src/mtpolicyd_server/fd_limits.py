"""The open-file limit: raised once at start, and the per-worker connection cap derived from it."""

from __future__ import annotations

import resource

#: descriptors a worker keeps for its own use: listeners, back-end connections, DNS, files, logs
RESERVED_DESCRIPTORS = 64
#: fewest connections a worker takes however low the limit is
MIN_CONNECTION_CAP = 16
#: the soft limit is raised no further than this when the hard limit is unlimited
UNLIMITED_TARGET = 1 << 20


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard one; the limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # e.g. above fs.nr_open: keep what we have
            return soft, soft
        return soft, target
    return soft, soft


def open_file_limit() -> int:
    """The soft RLIMIT_NOFILE now in force."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else soft


def default_connection_cap(limit: int) -> int:
    """Client connections one worker may hold under an open-file ``limit``, leaving room for its own."""
    reserve = max(RESERVED_DESCRIPTORS, limit // 8)
    return max(MIN_CONNECTION_CAP, limit - reserve)
