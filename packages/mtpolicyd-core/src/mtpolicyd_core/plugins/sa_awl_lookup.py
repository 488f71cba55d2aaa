"""SaAwlLookup: reads a sender's reputation from SpamAssassin's auto-whitelist database."""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property

from mtpolicyd_core.lookups.berkeley_db import BerkeleyHash
from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


def truncate_ip(ip: str) -> str | None:
    """The network part SpamAssassin keys the AWL by: `a.b` for IPv4, the /48 for IPv6 (upper case)."""
    if ":" in ip:
        try:
            network = ipaddress.IPv6Network(f"{ip}/48", strict=False)
        except ValueError:
            return None
        full = ":".join(f"{int(group, 16):04X}" for group in network.network_address.exploded.split(":"))
        return re.sub(r"(:0000)+", "::", full, count=1)
    match = re.fullmatch(r"([0-9]+\.[0-9]+).[0-9]+.[0-9]+", ip, re.ASCII)
    return match.group(1) if match else None


class SaAwlLookup(Plugin):
    """Looks up the (sender, client network) pair in SpamAssassin's AWL database and keeps
    ``[count, average score]`` in the session (`sa-awl-<name>-result`) for SaAwlAction."""

    db_file = Option(
        STR,
        default="/var/lib/amamvis/.spamassassin/auto-whitelist",
        doc="SpamAssassin's auto-whitelist Berkeley DB hash file",
        reads_file=True,
    )

    @cached_property
    def awl(self) -> BerkeleyHash:
        """The AWL database, opened on first use."""
        return BerkeleyHash(self.db_file)

    def entry(self, key: str) -> str | None:
        """One AWL value as text."""
        value = self.awl.get(key.encode("utf-8", "surrogateescape"))
        return None if value is None else value.decode("utf-8", errors="replace")

    def query(self, sender: str, ip: str) -> list[object]:
        """``[count, average score]`` of the pair, ``[]`` when the AWL has no record.
        Reads the Berkeley DB file: run on the thread pool."""
        network = truncate_ip(ip)
        if network is None:
            return []
        count = self.entry(f"{sender}|ip={network}")
        total = None if count is None else self.entry(f"{sender}|ip={network}|totscore")
        if count is None or total is None:
            return []
        if perl_numify(count) == 0:
            raise ZeroDivisionError("Illegal division by zero")
        return [count, perl_numify(total) / perl_numify(count)]

    async def run(self, request: Request) -> list[PluginResult]:
        sender = request.attr("sender")
        ip = request.attr("client_address")
        if sender is None or ip is None:
            return []
        found = await request.do_cached(
            f"sa-awl-{self.name}-result", lambda: self.in_thread(self.query, sender, ip)
        )
        if len(found) < 2 or found[0] is None or found[1] is None:
            self.debug(request, f"no AWL record for {sender}/{ip} found")
            return []
        self.debug(request, f"AWL record for {sender}/{ip} count={found[0]}, score={found[1]}")
        return []
