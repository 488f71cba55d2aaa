"""Run a policy daemon — the Perl original or ours — from a config template, on free ports."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from policy_sim.endpoint import Endpoint
from policy_sim.send import PolicyClient
from policy_sim.services.config_template import port_numbers, render, top_level_keys
from policy_sim.services.errors import MissingBinary
from policy_sim.services.ports import LOCALHOST, free_port, tcp_port_open, wait_until
from policy_sim.services.processes import ServiceProcess

PERL_MTPOLICYD = "/usr/bin/mtpolicyd"


def perl_mtpolicyd_argv() -> list[str]:
    """The Perl original (Debian package ``mtpolicyd``)."""
    if not os.access(PERL_MTPOLICYD, os.X_OK):
        raise MissingBinary(PERL_MTPOLICYD, "mtpolicyd")
    return [PERL_MTPOLICYD]


def python_mtpolicyd_argv() -> list[str]:
    """Our daemon's command, installed next to the running interpreter (never the Perl one on PATH)."""
    script = Path(sys.executable).parent / "mtpolicyd"
    if not os.access(script, os.X_OK):
        raise MissingBinary(str(script), remedy="pip install mtpolicyd-server into this Python's environment")
    return [str(script)]


def command_argv(command: str) -> list[str]:
    """A daemon command line (``--spawn-command``); MissingBinary when its program is not there."""
    argv = command.split()
    if not argv or not shutil.which(argv[0]):
        program = argv[0] if argv else "(empty command)"
        if program == PERL_MTPOLICYD:
            raise MissingBinary(program, "mtpolicyd")
        raise MissingBinary(program, remedy="install it, or give another --spawn-command")
    return argv


class MtpolicydDaemon:
    """A daemon run from a config template: ``host``, ``ports``/``port``, ``config_path``, ``log_text()``.

    ``{port}``, ``{port2}``… become free ports, ``{tmpdir}`` the daemon's directory, and every
    name in ``values`` its value; ``pid_file``, ``user``/``group`` (as root) and ``port`` are
    added unless the config sets them.
    """

    def __init__(
        self,
        argv: list[str],
        name: str,
        workdir: Path,
        template: str,
        values: Mapping[str, object],
        env: Mapping[str, str] | None,
    ) -> None:
        self.host = LOCALHOST
        workdir.mkdir(parents=True, exist_ok=True)
        numbers = port_numbers(template)
        self.ports = [free_port() for _ in numbers]
        ports: dict[str, object] = {
            f"port{number}": port for number, port in zip(numbers, self.ports, strict=True)
        }
        if "port1" in ports:
            ports["port"] = ports["port1"]
        config = render(template, {"tmpdir": workdir, **ports, **values})
        self.config_path = workdir / f"{name}.conf"
        self.config_path.write_text(self._defaults(config, workdir, name) + config)
        argv = [*argv, "-f", "-c", str(self.config_path)]
        env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = ServiceProcess(argv, workdir / f"{name}.log", env=env, cwd=workdir)

    def _defaults(self, config: str, workdir: Path, name: str) -> str:
        """Globals the daemon needs to run here, unless the config sets them."""
        present = top_level_keys(config)
        lines = []
        if "pid_file" not in present:
            lines.append(f'pid_file="{workdir / name}.pid"')
        if os.geteuid() == 0:
            lines += [f"{key}=root" for key in ("user", "group") if key not in present]
        if "port" not in present and self.ports:
            lines.append('port="' + ",".join(f"{LOCALHOST}:{port}" for port in self.ports) + '"')
        return "".join(line + "\n" for line in lines)

    @property
    def port(self) -> int:
        """The first listening port."""
        return self.ports[0]

    @property
    def log_path(self) -> Path:
        """The daemon's stdout and stderr."""
        return self.process.log_path

    @property
    def pid(self) -> int | None:
        """PID of the master process."""
        return self.process.pid

    def start(self, probe: Mapping[str, str] | None = None) -> Self:
        """Start and wait until every port accepts connections (and ``probe`` gets an answer)."""
        what = f"{self.process.argv[0]} -c {self.config_path}"
        self.process.start(lambda: all(tcp_port_open(self.host, port) for port in self.ports), what)
        if probe is not None:
            client = PolicyClient(Endpoint(self.host, self.port), timeout=30.0)
            try:
                client.request(probe)
            finally:
                client.close()
        return self

    def log_text(self) -> str:
        """What the daemon logged so far."""
        return self.process.log_text()

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until the log contains ``text`` (workers log after answering); the whole log."""
        wait_until(lambda: text in self.log_text(), timeout, f"{text!r} in {self.log_path}", lambda: None)
        return self.log_text()

    def running(self) -> bool:
        """True while the master process has not exited."""
        return self.process.running()

    def stop(self) -> None:
        """SIGTERM to the process group; SIGKILL what is left after a grace period."""
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL the whole process group."""
        self.process.kill()
