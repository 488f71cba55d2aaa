"""``policy-sim send``: ask a policy daemon by hand, one request per blank-line-ended block."""

from __future__ import annotations

import io
import os
import random
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO

from policy_sim.endpoint import Endpoint
from policy_sim.protocol import PolicyReply, ProtocolError, ServerClosed, encode_request, parse_reply_lines


def read_request_blocks(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """``name=value`` lines up to each empty line (or the end); ValueError on a line without ``=``."""
    block: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\n").removesuffix("\r")
        if not line:
            if block:
                yield block
            block = {}
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"line {number}: expected name=value, got {line!r}")
        block[name] = value
    if block:
        yield block


def complete_request(attributes: Mapping[str, str]) -> dict[str, str]:
    """Put ``request`` and ``instance`` first, made up when not given (like Postfix would)."""
    instance = attributes.get("instance") or (
        f"{os.getpid():x}.{int(time.time()):x}.{random.randrange(1_000_000):x}.0"
    )
    request = {"request": attributes.get("request", "smtpd_access_policy"), "instance": instance}
    request.update((name, value) for name, value in attributes.items() if name not in request)
    return request


def _read_reply(stream: io.BufferedIOBase) -> PolicyReply:
    lines: list[str] = []
    while True:
        raw = stream.readline()
        if not raw.endswith(b"\n"):
            raise ServerClosed(partial=bool(lines or raw))
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n").removesuffix("\r")
        if not line:
            return parse_reply_lines(lines)
        lines.append(line)


class PolicyClient:
    """A blocking client: a fresh connection per request, or one kept alive (``keepalive``)."""

    def __init__(
        self,
        endpoint: Endpoint | None = None,
        socket_path: str | None = None,
        keepalive: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.socket_path = socket_path
        self.keepalive = keepalive
        self.timeout = timeout
        self._socket: socket.socket | None = None
        self._stream: io.BufferedIOBase | None = None

    def _connect(self) -> io.BufferedIOBase:
        if self._stream is None:
            if self.socket_path is not None:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(self.timeout)
                conn.connect(self.socket_path)
            else:
                assert self.endpoint is not None
                conn = socket.create_connection((self.endpoint.host, self.endpoint.port), self.timeout)
            self._socket = conn
            self._stream = conn.makefile("rwb")
        return self._stream

    def request(self, attributes: Mapping[str, str]) -> PolicyReply:
        """Send one request and read the reply; the connection closes unless kept alive."""
        stream = self._connect()
        try:
            stream.write(encode_request(attributes))
            stream.flush()
            reply = _read_reply(stream)
        except (OSError, ProtocolError):
            self.close()
            raise
        if not self.keepalive:
            self.close()
        return reply

    def close(self) -> None:
        """Close the connection, if open."""
        if self._stream is not None:
            self._stream.close()
        if self._socket is not None:
            self._socket.close()
        self._stream = self._socket = None


def dump(prefix: str, text: str, stream: TextIO) -> None:
    """Write ``text`` with ``prefix`` before every line (the verbose trace of ``send``)."""
    for line in (text + "\n").splitlines():
        stream.write(f"{prefix}{line}\n")
