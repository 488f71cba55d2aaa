"""A few Redis commands over a plain socket (RESP2), to set up and watch test servers without redis-py."""

from __future__ import annotations

import socket
from typing import Any

#: seconds to connect and to wait for an answer
TIMEOUT = 2.0


class RespError(Exception):
    """Redis answered ``-ERR …`` (or another error reply)."""


def _encode(args: tuple[str | int | bytes, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class _Reader:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def _fill(self) -> None:
        data = self.conn.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buffer += data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return data

    def reply(self) -> Any:
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.exactly(size)
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        raise RespError(f"cannot read reply {line[:80]!r}")


def command(host: str, port: int, *args: str | int | bytes, timeout: float = TIMEOUT) -> Any:
    """Send one command on a new connection and return its reply (bulk strings as bytes)."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(_encode(args))
        return _Reader(conn).reply()


def info(host: str, port: int, section: str) -> dict[str, str]:
    """``INFO section`` (or ``CLUSTER INFO`` for ``cluster``) as a dict."""
    reply = (
        command(host, port, "CLUSTER", "INFO")
        if section == "cluster"
        else command(host, port, "INFO", section)
    )
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}
