"""Services from testcontainers instead of local binaries, when a Docker engine answers.

testcontainers and docker are optional: imported only here, only when a container is wanted.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from policy_sim.services.errors import MissingPythonPackage, ServiceStartError
from policy_sim.services.ports import LOCALHOST, wait_until
from policy_sim.services.processes import LOG_TAIL_CHARS, START_TIMEOUT

IMAGES = {"memcached": "memcached:1.6", "redis": "redis:7", "mariadb": "mariadb:10.11"}


def docker_available() -> bool:
    """True when testcontainers is installed and a Docker engine answers (``DOCKER_HOST`` or the socket)."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
    if importlib.util.find_spec("testcontainers") is None:
        return False
    try:
        import docker  # noqa: PLC0415 - only with Docker

        docker.from_env().ping()
        return True
    except Exception:  # whatever stops us reaching the engine: use local binaries
        return False


class ContainerProcess:
    """A container published on ``127.0.0.1:host_port``; same interface as ServiceProcess."""

    def __init__(
        self,
        image: str,
        internal_port: int,
        host_port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        command: str | None = None,
    ) -> None:
        self.image = image
        self.internal_port = internal_port
        self.host_port = host_port
        self.log_path = log_path
        self.env = dict(env or {})
        self.command = command
        self.container: Any = None

    pid = None

    def start(self, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
        """Run a fresh container on the same host port and wait until ``ready()``."""
        try:
            from testcontainers.core.container import DockerContainer  # noqa: PLC0415 - only with Docker
        except ImportError:
            raise MissingPythonPackage("testcontainers", "policy-sim[containers]") from None

        # docker-py takes (address, port): publish on the loopback only
        published = (LOCALHOST, self.host_port)
        container = DockerContainer(self.image).with_bind_ports(self.internal_port, published)  # type: ignore[arg-type, unused-ignore]
        for name, value in self.env.items():
            container = container.with_env(name, value)
        if self.command:
            container = container.with_command(self.command)
        self.container = container.start()
        try:
            wait_until(ready, timeout, what, lambda: None if self.running() else "container exited")
        except (RuntimeError, TimeoutError) as error:
            tail = self.log_text()[-LOG_TAIL_CHARS:]
            self.stop()
            raise ServiceStartError(what, str(error).removeprefix(f"{what}: "), self.image, tail) from None

    def running(self) -> bool:
        """True while the container runs."""
        if self.container is None:
            return False
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        return bool(wrapped.status == "running")

    def stop(self) -> None:
        """Remove the container (keeping its log)."""
        if self.container is None:
            return
        self.log_path.write_text(self.log_text())
        self.container.stop()
        self.container = None

    kill = stop

    def log_text(self) -> str:
        """The container's output."""
        if self.container is None:
            return self.log_path.read_text() if self.log_path.exists() else ""
        out, err = self.container.get_logs()
        return bytes(out + err).decode(errors="replace")
