"""DNS blocklist look-ups as the original's Mail::RBL does them, on a bounded resolver.

The resolver is the system's (``/etc/resolv.conf``), overridden like Perl's
Net::DNS by the environment: ``RES_NAMESERVERS`` (blank-separated addresses)
and ``RES_OPTIONS`` (``port:N``, ``timeout:N``/``retrans:N`` seconds per try,
``attempts:N``/``retry:N`` tries). Each look-up is bounded well below the
request timeout; a failed look-up is logged and counts as "not listed", as
Net::DNS's ``query`` returning nothing does in the original.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Mapping, Sequence

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

#: seconds one try waits for an answer, and how many tries a look-up makes
DEFAULT_TRY_TIMEOUT = 1.0
DEFAULT_ATTEMPTS = 2

_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", re.ASCII)


def configured_resolver(environ: Mapping[str, str] | None = None) -> dns.resolver.Resolver:
    """A resolver for the system's name servers, or those named by ``RES_NAMESERVERS``/``RES_OPTIONS``."""
    env = os.environ if environ is None else environ
    nameservers = env.get("RES_NAMESERVERS", "").split()
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = nameservers
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]  # the C library's default without resolv.conf
    try_timeout, attempts = DEFAULT_TRY_TIMEOUT, DEFAULT_ATTEMPTS
    for option in env.get("RES_OPTIONS", "").split():
        name, _, value = option.partition(":")
        if not value.isdigit():
            continue
        if name == "port":
            resolver.port = int(value)
        elif name in ("timeout", "retrans"):
            try_timeout = float(value)
        elif name in ("attempts", "retry"):
            attempts = int(value)
    resolver.timeout = try_timeout
    resolver.lifetime = try_timeout * max(attempts, 1)
    return resolver


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
        self, domain: str, resolver: dns.resolver.Resolver, logger: logging.LoggerAdapter[logging.Logger]
    ) -> None:
        self.domain = domain
        self.resolver = resolver
        self.logger = logger

    def check(self, host: str) -> list[str]:
        """``[listed address, txt …]`` for an IPv4 address (or a name's first IPv4); ``[]`` if not listed."""
        for reversed_address in self._reversed_addresses(host):
            found = self._lookup(reversed_address)
            if found:
                return found
        return []

    def check_rhsbl(self, hostname: str) -> list[str]:
        """``[listed address, txt …]`` for a domain name on a right-hand-side list; ``[]`` if not listed."""
        return self._lookup(hostname)

    def _lookup(self, prefix: str) -> list[str]:
        name = f"{prefix}.{self.domain}"
        addresses = self._query(name, dns.rdatatype.A)
        if not addresses:
            return []
        return [
            addresses[0].to_text(),
            *(net_dns_txt(getattr(txt, "strings", ())) for txt in self._query(name, dns.rdatatype.TXT)),
        ]

    def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> list[dns.rdata.Rdata]:
        """The records of one type; none on NXDOMAIN, on no answer and (logged) on failure."""
        try:
            answer = self.resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            self.logger.warning("DNS lookup %s %s failed: %s", name, dns.rdatatype.to_text(rdtype), error)
            return []
        return list(answer)

    def _reversed_addresses(self, host: str) -> list[str]:
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
            addresses = self._query(host if host.endswith(".") else f"{host}.", dns.rdatatype.A)
            if not addresses:
                return []
            packed = socket.inet_aton(addresses[0].to_text())
        return [".".join(str(octet) for octet in reversed(packed))]
