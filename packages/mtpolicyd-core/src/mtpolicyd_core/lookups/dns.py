"""DNS blocklist look-ups as the original's Mail::RBL does them.

The resolver is the worker's stub (:mod:`mtpolicyd_core.lookups.resolver`);
a failed look-up is logged and counts as "not listed", as Net::DNS's ``query``
returning nothing does in the original.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Sequence
from typing import Any

from mtpolicyd_core.lookups.process_resolver import ProcessResolver
from mtpolicyd_core.lookups.resolver import DnsLookupError

#: DNS record types the lists are asked for
A, TXT = 1, 16

_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", re.ASCII)


def net_dns_txt(strings: Sequence[bytes]) -> str:
    """A TXT record's text as Net::DNS's ``rdatastr`` shows it: strings quoted when they hold
    blanks, joined by blanks, lines wrapped after 80 columns with a newline and a tab."""
    lines: list[str] = []
    line: list[str] = []
    column = 0
    for text in (_net_dns_character_string(text) for text in strings):
        column += len(text) + 1
        if column > 80:
            if line:
                lines.append(" ".join(line))
            column, line = len(text), []
        line.append(text)
    lines.append(" ".join(line))
    return "\n\t".join(lines)


def _net_dns_character_string(text: bytes) -> str:
    """One character-string: special bytes as ``\\DDD`` (``\\"``, ``\\\\``), quoted if needed."""
    escaped = []
    for byte in text:
        if byte == 34:
            escaped.append('\\"')
        elif byte == 92:
            escaped.append("\\\\")
        elif byte < 32 or byte == 127 or byte in (192, 193, 255):
            escaped.append(f"\\{byte:03d}")
        else:
            escaped.append(chr(byte))
    # Net::DNS keeps UTF-8 octets and decodes them; re-read the non-ASCII bytes as UTF-8.
    value = "".join(escaped).encode("latin-1").decode("utf-8", errors="replace")
    return f'"{value}"' if re.search(r"[ \t\n\r\f();]", value) or not value else value


def listing_info(listing: Sequence[str]) -> str | None:
    """The first TXT text of a listing ``[address, txt …]``, if any."""
    return listing[1] if len(listing) > 1 else None


class Blocklist:
    """Queries one DNS list zone (``domain``) like Mail::RBL: the first A record, then its TXT records."""

    def __init__(
        self, domain: str, resolver: ProcessResolver, logger: logging.LoggerAdapter[logging.Logger]
    ) -> None:
        self.domain = domain
        self.resolver = resolver
        self.logger = logger

    async def check(self, host: str) -> list[str]:
        """``[listed address, txt …]`` for an IPv4 address (or a name's first IPv4); ``[]`` if not listed."""
        for reversed_address in await self._reversed_addresses(host):
            found = await self._lookup(reversed_address)
            if found:
                return found
        return []

    async def check_rhsbl(self, hostname: str) -> list[str]:
        """``[listed address, txt …]`` for a domain name on a right-hand-side list; ``[]`` if not listed."""
        return await self._lookup(hostname)

    async def _lookup(self, prefix: str) -> list[str]:
        name = f"{prefix}.{self.domain}"
        addresses = await self._query(name, A)
        if not addresses:
            return []
        return [str(addresses[0]), *(net_dns_txt(strings) for strings in await self._query(name, TXT))]

    async def _query(self, name: str, rdtype: int) -> list[Any]:
        """The record values of one type; none on NXDOMAIN, on no answer and (logged) on failure."""
        try:
            answer = await self.resolver.query(name, rdtype)
        except (DnsLookupError, ValueError) as error:  # no answer, or a name DNS cannot carry
            kind = "A" if rdtype == A else "TXT"
            self.logger.warning("DNS lookup %s %s failed: %s", name, kind, error)
            return []
        return answer.values

    async def _reversed_addresses(self, host: str) -> list[str]:
        """The reversed octets to query: of the address itself, or of the first address of a name."""
        if not host:
            raise ValueError("no host to check given (client_address missing or empty)")
        if _IPV4.fullmatch(host):
            return [".".join(reversed(host.split(".")))]
        if ":" in host:
            return []  # an IPv6 address: the original only looks up IPv4 addresses of names
        try:
            packed = socket.inet_aton(host)
        except OSError:
            addresses = await self._query(host if host.endswith(".") else f"{host}.", A)
            if not addresses:
                return []
            packed = socket.inet_aton(str(addresses[0]))
        return [".".join(str(octet) for octet in reversed(packed))]
