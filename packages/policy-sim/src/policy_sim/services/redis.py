"""A Redis server on 127.0.0.1 (local binary without persistence, or container), restartable."""

from __future__ import annotations

from pathlib import Path

from policy_sim.services.processes import require_binary
from policy_sim.services.server import CommandServer, command_answers


def redis_answers(host: str, port: int) -> bool:
    """True when ``host:port`` answers ``PING``."""
    return command_answers(host, port, *RedisServer.probe)


class RedisServer(CommandServer):
    """``host``, ``port``, ``address`` (``host:port``), ``url``; ``stop()``/``kill()`` then ``start()``."""

    kind = "redis"
    internal_port = 6379
    probe = (b"PING\r\n", b"+PONG")
    flush_command = b"FLUSHALL\r\n"

    def __init__(self, workdir: Path, docker: bool = False) -> None:
        super().__init__(workdir, docker)
        self.url = f"redis://{self.address}/0"

    def local_argv(self) -> list[str]:
        """redis-server on the loopback, no snapshots, no append-only file."""
        binary = require_binary("redis-server", "redis-server")
        return [
            binary,
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--protected-mode",
            "no",
        ]
