"""The listening sockets: ``port = [host:]port, …`` parsed, bound once by the master, shared by workers."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

#: Net::Server's spelling of "every interface"
ANY_HOST = "*"


@dataclass(frozen=True)
class Address:
    """Where to listen: host (name or IP literal) and TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_ports(specs: Iterable[str], default_host: str) -> list[Address]:
    """``[host:]port`` entries → addresses; a bare port listens on ``default_host`` (global ``host``)."""
    addresses = []
    for spec in specs:
        host, sep, port = spec.strip().rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"port: {spec!r} is not [host:]port")
        host = host.strip("[]") if sep else default_host
        addresses.append(Address(host, int(port)))
    return addresses


@dataclass(frozen=True)
class Listener:
    """A bound, listening, non-blocking socket and the local port that selects the vhost."""

    address: Address
    sock: socket.socket

    @property
    def port(self) -> int:
        """The local port (the vhost key)."""
        return self.address.port

    def fileno(self) -> int:
        """The socket's descriptor (so listeners can be registered with selectors)."""
        return self.sock.fileno()

    def close(self) -> None:
        """Stop listening in this process."""
        self.sock.close()


def bind(address: Address) -> Listener:
    """Bind and listen on ``address``; OSError says why not (in use, no permission, bad host)."""
    host = "" if address.host == ANY_HOST else address.host
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host or None, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return Listener(Address(address.host, sock.getsockname()[1]), sock)  # port 0 → the one chosen


def bind_all(addresses: Iterable[Address]) -> list[Listener]:
    """Bind every address, or none: on failure the ones already bound are closed again."""
    listeners: list[Listener] = []
    try:
        for address in addresses:
            listeners.append(bind(address))
    except OSError as error:
        for listener in listeners:
            listener.close()
        raise OSError(error.errno, f"cannot listen on {address}: {error.strerror or error}") from error
    return listeners
