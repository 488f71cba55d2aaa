"""Interim asyncio resolver on dnspython, until the stub resolver lands (same API)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

R = TypeVar("R", bound=dns.resolver.BaseResolver)
DEFAULT_TRY_TIMEOUT = 1.0
DEFAULT_ATTEMPTS = 2


class DnsLookupError(Exception):
    """No answer: every try timed out or failed."""


@dataclass(frozen=True)
class DnsRecord:
    """One answer record: A/AAAA text, TXT strings (bytes), MX (preference, name), PTR/CNAME name."""

    name: str
    rdtype: int
    ttl: int
    value: Any


@dataclass(frozen=True)
class DnsAnswer:
    """The rcode and the records of the asked type."""

    rcode: int
    records: tuple[DnsRecord, ...]


def _value(rdata: Any) -> Any:
    kind = rdata.rdtype
    if kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return rdata.address
    if kind == dns.rdatatype.TXT:
        return tuple(rdata.strings)
    if kind == dns.rdatatype.MX:
        return (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
    if kind in (dns.rdatatype.PTR, dns.rdatatype.CNAME):
        return rdata.target.to_text(omit_final_dot=True)
    return rdata.to_text()


def configured(kind: type[R], environ: Mapping[str, str] | None = None) -> R:
    """A dnspython resolver for ``RES_NAMESERVERS``/``RES_OPTIONS`` as Net::DNS reads them, else the
    system's resolv.conf."""
    env = os.environ if environ is None else environ
    nameservers = env.get("RES_NAMESERVERS", "").split()
    if nameservers:
        resolver = kind(configure=False)
        resolver.nameservers = nameservers
    else:
        try:
            resolver = kind()
        except dns.resolver.NoResolverConfiguration:
            resolver = kind(configure=False)
            resolver.nameservers = ["127.0.0.1"]
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


class DnsResolver:
    """The worker's resolver: asyncio look-ups, and a blocking twin for libraries in threads (pyspf)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._resolver = configured(dns.asyncresolver.Resolver, environ)
        self.blocking = configured(dns.resolver.Resolver, environ)

    async def query(self, name: str, rdtype: int) -> DnsAnswer:
        """The records of ``rdtype`` at ``name``; NXDOMAIN and no data are empty answers."""
        try:
            answer = await self._resolver.resolve(
                name, dns.rdatatype.RdataType(rdtype), search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(3, ())
        except dns.exception.DNSException as error:
            raise DnsLookupError(str(error)) from error
        ttl = answer.rrset.ttl if answer.rrset is not None else 0
        return DnsAnswer(0, tuple(DnsRecord(name, rdtype, ttl, _value(rdata)) for rdata in answer))

    def describe(self) -> str:
        """Servers and timeouts, for ``-d``."""
        resolver = self._resolver
        return f"nameservers {' '.join(map(str, resolver.nameservers))}, timeout {resolver.timeout:g} s"

    async def aclose(self) -> None:
        """Nothing is kept open."""
