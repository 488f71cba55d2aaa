"""PostfixMap: looks the client address up in a Postfix hash access map."""

from __future__ import annotations

import re
from functools import cached_property

from mtpolicyd_core.lookups.berkeley_db import BerkeleyHash
from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.match_actions import MatchActions
from mtpolicyd_core.roles.switch import Switchable

_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", re.ASCII)
_IPV6 = re.compile(r"[:0-9a-f]+")


class PostfixMap(Switchable, MatchActions, Plugin):
    """Looks ``client_address`` up in a map built by `postmap hash:…`: the address, then shorter
    prefixes (`1.2.3`, `1.2`, `1`; IPv6 by dropping the last `:` groups). A value of `OK` or a number
    is a match: adds ``score`` (once per mail) and answers ``match_action``; otherwise
    ``not_match_action`` is answered when set."""

    db_file = Option(
        STR,
        required=True,
        doc="the map's Berkeley DB hash file (e.g. `/etc/postfix/relay.db`)",
        reads_file=True,
    )
    score = Option(maybe(NUM), doc="score added on a match")
    match_action = Option(maybe(STR), doc="action answered on a match")
    not_match_action = Option(maybe(STR), doc="action answered when the address is not matched")

    @cached_property
    def map(self) -> BerkeleyHash:
        """The map file, opened on first use."""
        return BerkeleyHash(self.db_file)

    def lookup(self, key: str) -> str | None:
        """A map entry; Postfix stores keys and values with a trailing NUL byte."""
        value = self.map.get(key.encode("utf-8", "surrogateescape") + b"\0")
        if value is None:
            return None
        return value.decode("utf-8", errors="surrogateescape").removesuffix("\0")

    def find(self, ip: str) -> list[object]:
        """``[matched, key, value]`` for the longest prefix in the map, ``[]`` when none is."""
        key, value = None, None
        if _IPV4.fullmatch(ip):
            octets = ip.split(".")
            while octets and value is None:
                key = ".".join(octets)
                value = self.lookup(key)
                octets.pop()
        elif _IPV6.fullmatch(ip):
            key, value = self.find_ipv6(ip)
        else:
            raise ValueError("ip is neither a valid ipv4 nor ipv6 address.")
        if value is None:
            return []
        return [1 if value == "OK" or re.fullmatch(r"[0-9]+", value, re.ASCII) else 0, key, value]

    def find_ipv6(self, ip: str) -> tuple[str, str | None]:
        """The longest prefix with a true value (Perl truth: not empty, not "0") and that value."""
        key = ip
        while True:
            value = self.lookup(key)
            if perl_true(value):
                return key, value
            shorter = re.sub(r":+[^:]+$", "", key, count=1)
            if ":" not in key or shorter == key:  # the original loops forever on a trailing ":"
                return key, None
            key = shorter

    async def run(self, request: Request) -> list[PluginResult]:
        ip = request.attr("client_address")
        if ip is None:
            self.debug(request, "no attribute 'client_address' in request")
            return []
        found = await request.do_cached(f"{self.name}-result", lambda: self.in_thread(self.find, ip))
        if found and found[0]:
            self.debug(request, f"client_address {ip} matched {self.name} ({found[1]} {found[2]})")
            return self.match_results(request, matched=True)
        self.debug(request, f"client_address {ip} did not match {self.name}")
        return self.match_results(request, matched=False)
