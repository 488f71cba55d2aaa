"""Stable pseudonyms for mail addresses, host names, IP addresses and SASL users."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress


class Pseudonymiser:
    """Keyed-hash pseudonyms: the same input and key always give the same pseudonym.

    Domains keep their relation to hosts (``mx.example.com`` and ``a@example.com``
    share the pseudonym of ``example.com``); IPv4 maps into 10/8, IPv6 into fd00::/8.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._ips: dict[str, str] = {}
        self._used_ips: set[str] = set()

    def _digest(self, kind: str, value: str, length: int = 8) -> str:
        mac = hmac.new(self.key, f"{kind}\0{value.lower()}".encode(), hashlib.sha256)
        return mac.hexdigest()[:length]

    def domain(self, domain: str) -> str:
        """``example.com`` → ``d1a2b3c4d.example``; subdomains keep their depth."""
        if not domain:
            return domain
        labels = domain.lower().rstrip(".").split(".")
        registered = ".".join(labels[-2:])
        prefix = [f"h{self._digest('label', label, 6)}" for label in labels[:-2]]
        return ".".join([*prefix, f"d{self._digest('domain', registered)}", "example"])

    def host(self, name: str) -> str:
        """A host name (``unknown`` and bracketed IP literals are handled)."""
        if not name or name == "unknown":
            return name
        if name.startswith("[") and name.endswith("]"):
            return f"[{self.ip(name[1:-1])}]"
        try:
            return self.ip(name) if ipaddress.ip_address(name) else name
        except ValueError:
            return self.domain(name)

    def address(self, address: str) -> str:
        """``local@domain`` → ``u<hash>@<domain pseudonym>``; the null sender stays empty."""
        if not address:
            return address
        local, at, domain = address.rpartition("@")
        if not at:
            return f"u{self._digest('local', address)}"
        return f"u{self._digest('local', local)}@{self.domain(domain)}"

    def user(self, name: str) -> str:
        """A SASL login name (an address keeps the address form)."""
        if not name:
            return name
        return self.address(name) if "@" in name else f"sasl{self._digest('user', name)}"

    def ip(self, text: str) -> str:
        """A distinct private address per input address."""
        if text in self._ips:
            return self._ips[text]
        try:
            parsed = ipaddress.ip_address(text.removeprefix("ipv6:").removeprefix("IPv6:"))
        except ValueError:
            return self.host(text)
        seed = int(self._digest("ip", str(parsed), 16), 16)
        while True:
            if parsed.version == 4:
                candidate = str(ipaddress.IPv4Address((10 << 24) | (seed & 0xFFFFFF)))
            else:
                candidate = str(ipaddress.IPv6Address((0xFD << 120) | (seed & ((1 << 64) - 1))))
            if candidate not in self._used_ips:
                break
            seed += 1
        self._used_ips.add(candidate)
        self._ips[text] = candidate
        return candidate
