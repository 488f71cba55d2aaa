"""An rbldnsd serving given zone data on a loopback address (a free UDP port, or 127.0.0.x:53)."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

from policy_sim.services.ports import LOCALHOST, free_port
from policy_sim.services.processes import ServiceProcess, require_binary

#: a zone's data: rbldnsd dataset text (type ``ip4set``) or ``(dataset type, text)``
ZoneData = str | tuple[str, str]


def dns_query(name: str, query_id: int) -> bytes:
    """A DNS query packet for the A record of ``name`` (RFC 1035), recursion desired."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split("."))
    return header + labels + b"\0" + struct.pack("!HH", 1, 1)


def dns_answers(host: str, port: int) -> bool:
    """True when a DNS server on ``host:port`` answers a query at all."""
    query_id = secrets.randbelow(0x10000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.sendto(dns_query("ready.invalid", query_id), (host, port))
            reply = sock.recv(512)
        except OSError:
            return False
    return len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == query_id


class RbldnsdServer:
    """``host``, ``port``; ``env`` points Perl's Net::DNS (and any RES_* aware resolver) at it."""

    def __init__(
        self, workdir: Path, zones: Mapping[str, ZoneData], host: str = LOCALHOST, port: int | None = None
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(socket.SOCK_DGRAM, host)
        binary = require_binary("rbldnsd", "rbldnsd")
        # rbldnsd drops root for an unprivileged user, who must read the data files
        self.datadir = Path(tempfile.mkdtemp(prefix="rbldnsd-"))
        self.datadir.chmod(0o755)
        specs = []
        for zone, data in zones.items():
            kind, text = ("ip4set", data) if isinstance(data, str) else data
            data_file = self.datadir / (re.sub(r"[^\w.-]", "_", zone) + f".{kind}")
            data_file.write_text(text if text.endswith("\n") else text + "\n")
            specs.append(f"{zone}:{kind}:{data_file.name}")
        argv = [
            binary,
            "-n",
            "-4",
            "-u",
            "nobody",
            "-w",
            str(self.datadir),
            "-b",
            f"{self.host}/{self.port}",
            *specs,
        ]
        self.process = ServiceProcess(argv, workdir / f"rbldnsd-{host}-{self.port}.log")

    @property
    def env(self) -> dict[str, str]:
        """Environment for a daemon whose resolver must ask this server (Net::DNS reads RES_*)."""
        env = {"RES_NAMESERVERS": self.host}
        if self.port != 53:
            env["RES_OPTIONS"] = f"port:{self.port}"
        return env

    def start(self) -> RbldnsdServer:
        """Start and wait until it answers DNS queries."""
        self.process.start(lambda: dns_answers(self.host, self.port), f"rbldnsd on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        """Stop the server."""
        self.process.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
