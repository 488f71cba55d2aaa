"""One SPF evaluation (pyspf) with results explained as the original's Mail::SPF explains them.

Only the texts the policy answers show are rebuilt: the local explanation of a
``fail``/``softfail`` caused by a mechanism, and the usual perm/temp errors.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import spf

from mtpolicyd_core.lookups.dns_wire import AAAA, CNAME, MX, PTR, TXT, A, MxData
from mtpolicyd_core.lookups.resolver import DnsLookupError, DnsResolver
from mtpolicyd_core.lookups.spf_wording import (
    PARENT_DOMAIN_ERRORS,
    RECURSION_ERRORS,
    SPF_RECORD_LOOKUP,
    dns_error_text,
    error_text,
    macro_error_text,
)

#: seconds one evaluation may spend on DNS in all
SPF_QUERY_TIME = 5.0

_VERDICTS = {"pass": "is authorized", "fail": "is not authorized", "softfail": "is not authorized"}
_FALSE_FAILURES = ", however domain is not currently prepared for false failures"
_SENDER_IP_MECHANISMS = ("a", "mx", "ptr", "ip4", "ip6")


@dataclass(frozen=True)
class SpfResult:
    """The result code (`pass`, `fail`, `softfail`, `neutral`, `none`, `permerror`, `temperror`)
    and the local explanation, as Mail::SPF's ``code`` and ``local_explanation``."""

    code: str
    local_explanation: str
    authority_explanation: str = ""


@dataclass(frozen=True)
class SpfLimits:
    """RFC 7208 processing limits."""

    dns_interactive_terms: int = 10


class _Query(spf.query):  # type: ignore[misc]
    """pyspf's query, noting the domain whose record matched and honouring our lookup limit."""

    def __init__(self, limits: SpfLimits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.matched_domain: str | None = None
        #: the innermost domain evaluated when an error arose, and the domain that led to it
        self.failed_in: tuple[str, str] | None = None

    def check1(self, record: Any, domain: str, recursion: int) -> Any:
        parent = self.d
        try:
            return super().check1(record, domain, recursion)
        except (spf.PermError, spf.TempError):
            if self.failed_in is None:
                self.failed_in = (domain, parent)
            raise

    def expand(self, text: str, stripdot: bool = True) -> Any:
        try:
            return super().expand(text, stripdot)
        except spf.PermError as error:
            if error.msg == "Unknown Macro Encountered" and error.mech:
                raise spf.PermError(macro_error_text(error.mech, text)) from None
            raise

    def check0(self, record: str, recursion: int) -> Any:
        result = super().check0(record, recursion)
        if recursion == 0 and self.matched_domain is None and self.mechanism is not None:
            self.matched_domain = self.d
        return result

    def check_lookups(self) -> None:
        self.lookups += 1
        if self.lookups > self.limits.dns_interactive_terms:
            raise spf.PermError(
                f"Maximum DNS-interactive terms limit ({self.limits.dns_interactive_terms}) exceeded"
            )


#: pyspf's query types, as record types of the stub resolver
_RDTYPES = {"A": A, "AAAA": AAAA, "MX": MX, "PTR": PTR, "TXT": TXT, "SPF": TXT, "CNAME": CNAME}
#: the resolver the running evaluation (in this thread's context) looks up through
_evaluating_with: ContextVar[DnsResolver] = ContextVar("mtpolicyd_spf_resolver")


def _pyspf_lookup(name: str, qtype: str, strict: object = True, timeout: float = 30) -> list[Any]:
    """pyspf's ``DNSLookup``: ``[((name, type), value), …]`` from the worker's stub resolver (with its
    cache), CNAMEs included; answered from a pool thread while the worker's loop does the I/O."""
    resolver = _evaluating_with.get()
    try:
        answer = resolver.query_from_thread(name, _RDTYPES[qtype])
    except DnsLookupError as error:
        raise spf.TempError(dns_error_text(error.reason, name, qtype)) from None
    found: list[Any] = []
    owner = name
    for alias in answer.cname_chain:
        found.append(((owner, "CNAME"), alias))
        owner = alias
    for value in answer.values:
        found.append(
            ((owner, qtype), (value.preference, value.exchange) if isinstance(value, MxData) else value)
        )
    return found


spf.DNSLookup = _pyspf_lookup  # pyspf looks up through a module function: ours, for every evaluation


@dataclass(frozen=True)
class SpfServer:
    """What every evaluation of one plugin shares: limits, this host and default explanation."""

    limits: SpfLimits
    hostname: str
    default_authority_explanation: str


def evaluate(
    scope: str, identity: str, ip: str, helo: str | None, server: SpfServer, resolver: DnsResolver
) -> SpfResult:
    """Check ``identity`` (a HELO name, or a sender address for scope `mfrom`) for ``ip``, looking up
    through ``resolver`` (blocking: run it on a pool thread while the resolver's loop runs)."""
    token = _evaluating_with.set(resolver)
    try:
        return _evaluate(scope, identity, ip, helo, server)
    finally:
        _evaluating_with.reset(token)


def _evaluate(scope: str, identity: str, ip: str, helo: str | None, server: SpfServer) -> SpfResult:
    if not identity:
        raise ValueError("'identity' option must not be empty")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"Invalid IP address '{ip}'") from None
    domain = identity.rpartition("@")[2] if "@" in identity else identity
    domain = domain.rstrip(".").lower() if not domain.endswith("..") else domain.lower()
    sender = identity if "@" in identity else f"postmaster@{identity}"
    query = _Query(
        server.limits,
        i=ip,
        s=sender,
        h=helo or identity,
        receiver=server.hostname or receiving_host(),
        querytime=SPF_QUERY_TIME,
    )
    code, _, message = query.check()
    if code in _VERDICTS and query.mechanism is not None:
        text = mechanism_explanation(code, query.mechanism, identity, scope, address)
        where = query.matched_domain or domain
        prefix = domain if where == domain else f"{domain} ... {where}"
        authority = authority_explanation(query, identity, where, message, server) if code == "fail" else ""
        return SpfResult(code, sanitize(f"{prefix}: {text}"), authority)
    text = error_text(code, message, server.limits.dns_interactive_terms)
    return SpfResult(code, sanitize(f"{error_where(query, domain, message, text)}: {text}"))


@functools.cache
def receiving_host() -> str:
    """This host's name as Mail::SPF takes it when ``hostname`` is not set: the canonical name of
    the host name (``gethostbyname``), or the host name itself when that does not resolve."""
    name = socket.gethostname()
    try:
        return socket.gethostbyname_ex(name)[0]
    except OSError:
        return name


def error_where(query: _Query, domain: str, message: str, text: str) -> str:
    """``domain``, or ``domain ... inner`` for an error met in an included or redirected domain,
    as Mail::SPF names where it met the error."""
    recursion = RECURSION_ERRORS.search(message)
    if recursion:  # Mail::SPF recursed into the domain until its limit: always "A ... A"
        return f"{domain} ... {recursion.group(1).rstrip('.').lower()}"
    record_lookup = SPF_RECORD_LOOKUP.search(text)
    if record_lookup:  # the record of an included or redirected domain could not be fetched
        inner = record_lookup.group(1)
    elif query.failed_in is None:
        return domain
    else:
        inner, parent = query.failed_in
        if any(marker in text for marker in PARENT_DOMAIN_ERRORS):
            inner = parent
    inner = inner.rstrip(".").lower()
    return domain if inner == domain else f"{domain} ... {inner}"


def authority_explanation(query: Any, identity: str, domain: str, message: str, server: SpfServer) -> str:
    """A fail's explanation by the domain (``exp=``), else the configured default, macros expanded
    with the checked identity as ``%{s}`` and the deciding domain as ``%{d}``."""
    if message != spf.EXPLANATIONS["fail"]:
        return message
    query.s, query.d = identity, domain
    try:
        return str(query.expand(server.default_authority_explanation, stripdot=False))
    except (spf.PermError, spf.TempError):
        return ""


def mechanism_explanation(
    code: str, term: str, identity: str, scope: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> str:
    """Mail::SPF's sentence for a result a mechanism decided, naming the mechanism."""
    mechanism = mail_spf_mechanism(term)
    name = mechanism.lstrip("+-~?").split(":")[0].split("/")[0]
    if name in _SENDER_IP_MECHANISMS:
        who, by_default = str(address.ipv4_mapped or address) if address.version == 6 else str(address), ""
    else:
        who, by_default = "Sender", " by default" if name == "all" else ""
    sentence = f"{who} {_VERDICTS[code]}{by_default} to use '{identity}' in '{scope}' identity"
    if code == "softfail":
        sentence += _FALSE_FAILURES
    return f"{sentence} (mechanism '{mechanism}' matched)"


def mail_spf_mechanism(term: str) -> str:
    """A mechanism as Mail::SPF writes it: no `+`, lower-case name, default prefix lengths left out."""
    qualifier = term[0] if term[:1] in ("+", "-", "~", "?") else ""
    match = re.fullmatch(r"([A-Za-z0-9]+)(?::([^/]*))?(/.*)?", term[len(qualifier) :])
    if match is None:
        return term
    name, spec, lengths = match.group(1).lower(), match.group(2) or "", match.group(3) or ""
    ipv4_length, _, ipv6_length = lengths.partition("//")
    if name == "ip6":
        spec, ipv4_length = str(ipaddress.ip_address(spec)), "" if lengths == "/128" else lengths
    elif ipv4_length == "/32":
        ipv4_length = ""
    suffix = ipv4_length + ("" if ipv6_length in ("", "128") else f"//{ipv6_length}")
    return f"{qualifier.replace('+', '')}{name}{':' + spec if spec else ''}{suffix}"


def sanitize(text: str) -> str:
    """Control and non-ASCII characters as ``\\xNN`` escapes, as Mail::SPF::Util does."""
    text = re.sub(r"[\x00-\x1f\x7f-\xff]", lambda m: f"\\x{ord(m.group(0)):02x}", text)
    return re.sub(r"[\u0100-\uffff]", lambda m: f"\\x{{{ord(m.group(0)):04x}}}", text)
