"""Proxy: forwards the request to another policy server and answers what it answers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

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


async def read_response(stream: asyncio.StreamReader) -> dict[str, str]:
    """The ``name=value`` lines of a response up to the empty line."""
    attributes: dict[str, str] = {}
    received = False
    while True:
        raw = await stream.readline()
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


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Proxy(Plugin):
    """Sends the whole request to the policy server at ``socket_path`` (unix socket) or
    ``host`` (``host:port``) and answers its action, ending the chain.
    ``keepalive`` keeps connections open for the next requests (one per request in flight).
    """

    socket_path = Option(maybe(STR), doc="unix socket of the other policy server")
    host = Option(maybe(STR), doc="`host:port` of the other policy server (used without socket_path)")
    keepalive = Option(BOOL, default="0", doc="keep the connection open between requests")

    def init(self) -> None:
        self._idle: list[Stream] = []

    async def connect(self) -> Stream:
        """A new connection to the configured server."""
        try:
            async with asyncio.timeout(PROXY_TIMEOUT):
                if self.socket_path is not None:
                    failure = "could not connect to socket"
                    return await asyncio.open_unix_connection(self.socket_path)
                if self.host is None:
                    raise ProxyError("no host and no socket_path configured!")
                failure = "could not connect to host"
                host, _, port = self.host.rpartition(":")
                if not host or not port.isdigit():
                    raise ProxyError(f"{failure}: bad address {self.host} (use host:port)")
                return await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, TimeoutError) as error:
            raise ProxyError(f"{failure}: {error}") from None

    async def exchange(self, payload: bytes) -> dict[str, str]:
        """Send one request and read its response over a kept or a new connection."""
        reused = bool(self._idle)
        reader, writer = self._idle.pop() if reused else await self.connect()
        try:
            async with asyncio.timeout(PROXY_TIMEOUT):
                writer.write(payload)
                await writer.drain()
                response = await read_response(reader)
        except (OSError, TimeoutError, ProxyError) as error:
            writer.close()
            if reused and isinstance(error, (NoResponse, BrokenPipeError, ConnectionResetError)):
                return await self.exchange(payload)  # the server closed the kept connection meanwhile
            raise ProxyError(f"{error}") from None
        except BaseException:  # cancelled (request_timeout): the connection is mid-exchange
            writer.close()
            raise
        if self.keepalive and not reader.at_eof():
            self._idle.append((reader, writer))
        else:
            writer.close()
        return response

    async def run(self, request: Request) -> list[PluginResult]:
        response = await self.exchange(proxy_request(request.attributes))
        action = response.get("action")
        if action is None:
            raise ProxyError("no action found in response")
        return [PluginResult(action, abort=True)]
