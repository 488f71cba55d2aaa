"""Postfix policy protocol framing, sans I/O: bytes in → requests, result → bytes.

A request is ``name=value`` lines ended by an empty line; a trailing ``\\r`` is
stripped, a line is split at its first ``=`` and a repeated name keeps its last
value (as the original's hash does). Attributes are bytes to Postfix: they are
decoded as UTF-8 with ``surrogateescape``, so any byte sequence survives to the
reply unchanged; the request only records that it was not valid UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mtpolicyd_core.result import ChainResult

ENCODING = "utf-8"
ERRORS = "surrogateescape"


class ProtocolError(Exception):
    """The client broke the protocol or a limit; the connection must be closed."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may hold (our additions; the original has none)."""

    max_line_length: int = 64 * 1024
    max_request_size: int = 1024 * 1024
    max_request_attributes: int = 1000


@dataclass(frozen=True)
class PolicyRequest:
    """One parsed request: its attributes in order, and whether some bytes were not UTF-8."""

    attributes: dict[str, str]
    invalid_utf8: bool = False


class RequestParser:
    """Feed it received bytes in any pieces; it returns each request once its empty line came.

    An empty request (an empty line with no attribute before it) is returned once and
    ends the conversation: the original answers it and closes, so later bytes are ignored.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._line = bytearray()
        self._attributes: dict[str, str] = {}
        self._invalid_utf8 = False
        self._request_size = 0
        self._attribute_lines = 0
        #: an empty request came: nothing after it is parsed
        self.ended = False

    @property
    def pending(self) -> bool:
        """True while part of a request has arrived but not its empty line."""
        return self._request_size > 0

    def feed(self, data: bytes) -> list[PolicyRequest]:
        """The requests completed by ``data``; raises ProtocolError on bad input or a limit hit."""
        requests: list[PolicyRequest] = []
        start = 0
        while start < len(data) and not self.ended:
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            self._grow(len(piece) + (end >= 0))
            self._line += piece
            if len(self._line) > self.limits.max_line_length:
                raise ProtocolError(f"line longer than max_line_length ({self.limits.max_line_length} bytes)")
            if end < 0:
                break
            request = self._end_of_line()
            if request is not None:
                requests.append(request)
            start = end + 1
        return requests

    def _grow(self, size: int) -> None:
        self._request_size += size
        if self._request_size > self.limits.max_request_size:
            limit = self.limits.max_request_size
            raise ProtocolError(f"request larger than max_request_size ({limit} bytes)")

    def _end_of_line(self) -> PolicyRequest | None:
        raw = bytes(self._line[:-1] if self._line.endswith(b"\r") else self._line)
        self._line.clear()
        if not raw:
            self.ended = not self._attributes
            request = PolicyRequest(self._attributes, self._invalid_utf8)
            self._attributes, self._invalid_utf8 = {}, False
            self._request_size = self._attribute_lines = 0
            return request
        if b"\0" in raw:
            raise ProtocolError("NUL byte in request")
        name, sep, value = raw.partition(b"=")
        if not sep:
            raise ProtocolError("error parsing request: line without '='")
        self._attribute_lines += 1
        if self._attribute_lines > self.limits.max_request_attributes:
            raise ProtocolError(
                f"more than max_request_attributes ({self.limits.max_request_attributes}) attributes"
            )
        self._attributes[self._text(name)] = self._text(value)
        return None

    def _text(self, raw: bytes) -> str:
        try:
            return raw.decode(ENCODING)
        except UnicodeDecodeError:
            self._invalid_utf8 = True
            return raw.decode(ENCODING, ERRORS)


def encode_request(attributes: Mapping[str, str]) -> bytes:
    """A request as Postfix sends it (names without ``=`` or newlines, values without newlines)."""
    text = "".join(f"{name}={value}\n" for name, value in attributes.items()) + "\n"
    return text.encode(ENCODING, ERRORS)


def encode_reply(result: ChainResult) -> bytes:
    """The reply: ``action=`` lines and an empty line (``action=dunno`` when no plugin answered)."""
    return result.as_policyd_response().encode(ENCODING, ERRORS)
