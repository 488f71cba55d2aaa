"""Proxy: forwards the request to another policy server and answers what it answers."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import BinaryIO

from mtpolicyd_core.options import BOOL, STR, Option, maybe
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

#: seconds to wait for the other server (the original waits forever)
PROXY_TIMEOUT = 30.0


class ProxyError(Exception):
    """The other policy server could not be reached or answered nonsense."""


class NoResponse(ProxyError):
    """The connection ended before any byte of a response arrived."""


def proxy_request(attributes: Mapping[str, str]) -> bytes:
    """The request as sent on: ``request``, ``instance``, then every attribute (as the original, which
    repeats ``request``)."""
    request_type = attributes.get("request")
    instance = attributes.get("instance")
    if request_type is None or instance is None:
        raise ProxyError("cannot proxy a request without request and instance attributes")
    lines = [f"request={request_type}", f"instance={instance}"]
    lines += [f"{name}={value}" for name, value in attributes.items() if name not in ("type", "instance")]
    return ("\n".join(lines) + "\n\n").encode("utf-8", errors="surrogateescape")


def read_response(stream: BinaryIO) -> dict[str, str]:
    """The ``name=value`` lines of a response up to the empty line."""
    attributes: dict[str, str] = {}
    received = False
    while True:
        raw = stream.readline()
        if not raw:
            if received:
                raise ProxyError("could not read response")
            raise NoResponse("could not read response")
        received = True
        line = raw.decode("utf-8", errors="surrogateescape").rstrip("\n").removesuffix("\r")
        if line == "":
            return attributes
        name, sep, value = line.partition("=")
        if not sep:
            raise ProxyError("error parsing response")
        attributes[name] = value


class Proxy(Plugin):
    """Sends the whole request to the policy server at ``socket_path`` (unix socket) or
    ``host`` (``host:port``) and answers its action, ending the chain.
    ``keepalive`` keeps the connection open for the next request.
    """

    socket_path = Option(maybe(STR), doc="unix socket of the other policy server")
    host = Option(maybe(STR), doc="`host:port` of the other policy server (used without socket_path)")
    keepalive = Option(BOOL, default="0", doc="keep the connection open between requests")

    _connection: socket.socket | None = None

    def connect(self) -> socket.socket:
        """A new connection to the configured server."""
        if self.socket_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = self.socket_path
            failure = "could not connect to socket"
        elif self.host is not None:
            host, _, port = self.host.rpartition(":")
            if not host or not port.isdigit():
                raise ProxyError(f"could not connect to host: bad address {self.host} (use host:port)")
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            address = (host.strip("[]"), int(port))
            failure = "could not connect to host"
        else:
            raise ProxyError("no host and no socket_path configured!")
        sock.settimeout(PROXY_TIMEOUT)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            raise ProxyError(f"{failure}: {error}") from None
        return sock

    def disconnect(self) -> None:
        """Close the kept connection, if any."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def exchange(self, payload: bytes) -> dict[str, str]:
        """Send one request and read its response over the kept or a new connection."""
        reused = self._connection is not None
        if self._connection is None:
            self._connection = self.connect()
        connection = self._connection
        try:
            connection.sendall(payload)
            with connection.makefile("rb") as stream:
                response = read_response(stream)
        except (OSError, ProxyError) as error:
            self.disconnect()
            if reused and isinstance(error, (NoResponse, BrokenPipeError, ConnectionResetError)):
                return self.exchange(payload)  # the server closed the kept connection meanwhile
            raise ProxyError(f"{error}") from None
        if not self.keepalive or self.peer_closed(connection):
            self.disconnect()
        return response

    @staticmethod
    def peer_closed(connection: socket.socket) -> bool:
        """Whether the server has closed its side (without waiting)."""
        connection.setblocking(False)
        try:
            return connection.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            connection.settimeout(PROXY_TIMEOUT)

    def run(self, request: Request) -> list[PluginResult]:
        response = self.exchange(proxy_request(request.attributes))
        action = response.get("action")
        if action is None:
            raise ProxyError("no action found in response")
        return [PluginResult(action, abort=True)]
