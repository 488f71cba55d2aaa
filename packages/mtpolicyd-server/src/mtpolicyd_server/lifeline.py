"""Workers notice their master's death at once and stop: a pipe's closing, and PR_SET_PDEATHSIG on Linux.

Only the master holds the pipe's write end; when it dies, however it dies, the
read end each worker watches reaches end of file. Linux also sends SIGTERM
(``prctl(PR_SET_PDEATHSIG)``), which covers a worker whose loop is not
watching yet.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


class Lifeline:
    """The master's end stays open as long as the master lives; workers watch ``read_fd``."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.master_pid = os.getpid()

    def in_worker(self) -> None:
        """Right after fork, in the worker: drop the write end and ask for SIGTERM on the master's death."""
        with contextlib.suppress(OSError):
            os.close(self.write_fd)
        ask_for_signal_on_parent_death(signal.SIGTERM)
        if os.getppid() != self.master_pid:  # died before we asked
            os.kill(os.getpid(), signal.SIGTERM)

    def master_gone(self) -> bool:
        """True once the master's end is closed (call when ``read_fd`` is readable)."""
        try:
            return os.read(self.read_fd, 1) == b""
        except BlockingIOError:
            return False

    def close(self) -> None:
        """Close both ends in this process."""
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def ask_for_signal_on_parent_death(signum: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, signum)`` on Linux; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
