"""What memcached and Redis have in common: a text command to probe and flush, a restartable process."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Self

from policy_sim.services.containers import IMAGES, ContainerProcess
from policy_sim.services.ports import LOCALHOST, free_port
from policy_sim.services.processes import ServiceProcess


def command_answers(host: str, port: int, command: bytes, expected: bytes) -> bool:
    """True when ``host:port`` answers ``command`` with a reply starting with ``expected``."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(command)
            return conn.recv(64).startswith(expected)
    except OSError:
        return False


class CommandServer:
    """A server on ``127.0.0.1`` spoken to in text commands; ``stop()``/``kill()`` then ``start()`` again.

    Subclasses name the image, the internal port, the probe and flush commands, and the local argv.
    """

    kind = ""
    internal_port = 0
    probe = (b"", b"")  # command, expected reply prefix
    flush_command = b""

    def __init__(self, workdir: Path, docker: bool = False) -> None:
        self.workdir = workdir
        self.host = LOCALHOST
        self.port = free_port()
        self.address = f"{self.host}:{self.port}"
        log_path = workdir / f"{self.kind}-{self.port}.log"
        self.process: ServiceProcess | ContainerProcess
        if docker:
            self.process = ContainerProcess(IMAGES[self.kind], self.internal_port, self.port, log_path)
        else:
            self.process = ServiceProcess(self.local_argv(), log_path)

    def local_argv(self) -> list[str]:
        """The command line of the local binary."""
        raise NotImplementedError

    def answers(self) -> bool:
        """True when the server answers its probe command."""
        return command_answers(self.host, self.port, *self.probe)

    def start(self) -> Self:
        """Start (or restart) the server and wait until it answers."""
        self.process.start(self.answers, f"{self.kind} on {self.address}")
        return self

    def stop(self) -> None:
        """Shut the server down; its data is lost."""
        self.process.stop()

    def kill(self) -> None:
        """Kill the server at once."""
        self.process.kill()

    def flush(self) -> None:
        """Drop every key."""
        with socket.create_connection((self.host, self.port), timeout=2) as conn:
            conn.sendall(self.flush_command)
            conn.recv(64)
