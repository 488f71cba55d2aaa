"""Start a local service binary in its own process group, wait for it, stop it by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from policy_sim.services.errors import MissingBinary, ServiceStartError
from policy_sim.services.ports import wait_until

#: seconds a service gets to become ready, and to exit after SIGTERM
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: how much of a failed service's log an error shows
LOG_TAIL_CHARS = 4000


def require_binary(name: str, debian_package: str) -> str:
    """The path of ``name``; MissingBinary naming the Debian package when it is not installed."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MissingBinary(name, debian_package)


class ServiceProcess:
    """One service process; its output goes to ``log_path``, kept after it stops."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ, **(env or {}))
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The PID of the running process (leader of its process group)."""
        return None if self.process is None else self.process.pid

    def start(self, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until ``ready()``; ServiceStartError with the log when it dies first."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        try:
            wait_until(ready, timeout, what, self._death)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise ServiceStartError(
                what, str(error).removeprefix(f"{what}: "), self.log_path, self.log_text()[-LOG_TAIL_CHARS:]
            ) from None

    def _death(self) -> str | None:
        if self.process is None or self.process.poll() is None:
            return None
        return f"exited with status {self.process.returncode}"

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group, wait, and SIGKILL what is left."""
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def kill(self) -> None:
        """Kill the process group at once (a crash, not a shutdown)."""
        self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
