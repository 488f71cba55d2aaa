"""The Postfix policy protocol as a client speaks it: encode a request, read a reply."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

MAX_REPLY_BYTES = 1 << 20


class ProtocolError(Exception):
    """The server's reply is not a policy reply (no ``=``, no action, too long)."""


class ServerClosed(ConnectionError):
    """The server closed the connection before answering; ``partial`` tells if any byte came."""

    def __init__(self, partial: bool) -> None:
        self.partial = partial
        super().__init__(
            "connection closed in the middle of the reply"
            if partial
            else "connection closed before any reply"
        )


def encode_request(attributes: Mapping[str, str]) -> bytes:
    """``name=value`` lines and the empty line; newlines inside values are not allowed."""
    lines = []
    for name, value in attributes.items():
        if "\n" in name or "\n" in value or "=" in name or not name:
            raise ValueError(f"attribute {name!r} cannot be sent in the policy protocol")
        lines.append(f"{name}={value}\n")
    lines.append("\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class PolicyReply:
    """A server's answer: its attributes in order; ``action`` joins several action lines."""

    attributes: tuple[tuple[str, str], ...]

    @property
    def actions(self) -> list[str]:
        """Every ``action=`` value, in order."""
        return [value for name, value in self.attributes if name == "action"]

    @property
    def action(self) -> str:
        """The action text (several action lines joined by newlines)."""
        return "\n".join(self.actions)

    def as_text(self) -> str:
        """The reply as it came over the wire, without the final empty line."""
        return "".join(f"{name}={value}\n" for name, value in self.attributes)


def parse_reply_lines(lines: list[str]) -> PolicyReply:
    """Build a reply from its lines (without the empty terminator)."""
    attributes = []
    for line in lines:
        name, sep, value = line.partition("=")
        if not sep:
            raise ProtocolError(f"reply line without '=': {line!r}")
        attributes.append((name, value))
    reply = PolicyReply(tuple(attributes))
    if not reply.actions:
        raise ProtocolError("reply has no action")
    return reply


async def read_reply(reader: asyncio.StreamReader) -> PolicyReply:
    """Read one reply up to its empty line; ServerClosed if the stream ends first."""
    lines: list[str] = []
    received = 0
    while True:
        raw = await reader.readline()
        if not raw.endswith(b"\n"):
            raise ServerClosed(partial=bool(received or raw))
        received += len(raw)
        if received > MAX_REPLY_BYTES:
            raise ProtocolError(f"reply longer than {MAX_REPLY_BYTES} bytes")
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n").removesuffix("\r")
        if line == "":
            return parse_reply_lines(lines)
        lines.append(line)
