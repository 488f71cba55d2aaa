"""Process titles as the original shows them in ps and top: ``mtpolicyd (master)``, ``mtpolicyd (worker)``."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_NAME = 15


def set_process_title(title: str) -> None:
    """The command line ps shows (setproctitle); without it, at least the short name (prctl)."""
    try:
        import setproctitle  # noqa: PLC0415 - a dependency; tolerate its absence in odd builds
    except ImportError:
        _set_comm(title)
        return
    setproctitle.setproctitle(title)


def _set_comm(title: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(title.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        return
