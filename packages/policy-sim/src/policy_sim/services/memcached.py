"""A memcached server on 127.0.0.1 (local binary or container), restartable on the same port."""

from __future__ import annotations

from policy_sim.services.processes import require_binary
from policy_sim.services.server import CommandServer, command_answers


def memcached_answers(host: str, port: int) -> bool:
    """True when ``host:port`` answers the memcached ``version`` command."""
    return command_answers(host, port, *MemcachedServer.probe)


class MemcachedServer(CommandServer):
    """``host``, ``port``, ``address`` (``host:port``); ``stop()``/``kill()`` then ``start()`` again."""

    kind = "memcached"
    internal_port = 11211
    probe = (b"version\r\n", b"VERSION")
    flush_command = b"flush_all\r\n"

    def local_argv(self) -> list[str]:
        """memcached on the loopback, TCP only, 64 MB."""
        binary = require_binary("memcached", "memcached")
        return [binary, "-l", self.host, "-p", str(self.port), "-U", "0", "-m", "64", "-u", "root"]
