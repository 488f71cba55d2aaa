"""DBL: looks the sender domain, reverse client name and HELO name up in a domain blocklist."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import cached_property

from mtpolicyd_core.lookups.dns import Blocklist, listing_info
from mtpolicyd_core.options import NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable

#: the checked request attributes, in the order they are checked
CHECKS = ("sender", "reverse_client_name", "helo_name")
_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", re.ASCII)


def checked_hostname(request: Request, check: str) -> str | None:
    """The domain to look up for one check; None for unknown, empty, IP or unqualified values."""
    value = request.attr(check)
    if value is None:
        raise ValueError(f"{check} not defined in request!")
    if value in ("unknown", "") or _IPV4.fullmatch(value) or ":" in value or "." not in value:
        return None
    return re.sub(r"^[^@]*@", "", value, count=1) if check == "sender" else value


class DBL(Switchable, ModeAnswers, Scoring, Plugin):
    """Looks up the sender's domain, the reverse client name and the HELO name (in that order) in the
    DNS domain list ``domain``. Each listed name adds its check's score (once per mail); the first
    listed check whose mode is `reject` answers a reject. Other modes only score."""

    domain = Option(STR, required=True, doc="DNS zone of the list, e.g. `dbl.spamhaus.org`")
    sender_mode = mode_option("reject", ("reject", "passive"), "`reject` or `passive`")
    sender_score = Option(maybe(NUM), default="5", doc="score added when the sender domain is listed")
    reverse_client_name_mode = mode_option("reject", ("reject", "passive"), "`reject` or `passive`")
    reverse_client_name_score = Option(
        maybe(NUM), default="2.5", doc="score added when the reverse client name is listed"
    )
    helo_name_mode = mode_option("passive", ("reject", "passive"), "`reject` or `passive`")
    helo_name_score = Option(maybe(NUM), default="1", doc="score added when the HELO name is listed")
    reject_message = Option(
        STR,
        default="%CHECK% rejected (%HOSTNAME%%INFO%)",
        doc="text after `reject`; `%CHECK%` is the check, `%HOSTNAME%` the name, `%INFO%` `, <TXT text>`",
    )

    @cached_property
    def blocklist(self) -> Blocklist:
        """The list zone, queried through the worker's resolver."""
        return Blocklist(self.domain, self.dns, self.logger)

    def prefetch(self, request: Request) -> None:
        for check in CHECKS:
            try:
                hostname = checked_hostname(request, check)
            except ValueError:
                return  # run() fails on the missing attribute; nothing after it is looked up
            if hostname is not None:
                request.prefetch(f"{self.name}-{check}-result", self.lookup(hostname))

    async def run(self, request: Request) -> list[PluginResult]:
        for check in CHECKS:
            hostname = checked_hostname(request, check)
            if hostname is None:
                continue
            listing = await request.do_cached(f"{self.name}-{check}-result", self.lookup(hostname))
            if not listing:
                self.debug(request, f"domain {hostname} not on {self.domain} blacklist")
                continue
            info = listing_info(listing)
            self.debug(
                request,
                f"domain {hostname} is on {self.domain} blacklist"
                + (f" ({info})" if info is not None else ""),
            )
            flag = f"{self.name}-{check}-score"
            self.add_score_once(request, flag, getattr(self, f"{check}_score"), key=f"{self.name}-{check}")
            answer = self.mode_results(
                self.get_uc(request, f"{check}_mode"),
                self.reject_action(check, hostname, info),
                accept_modes=(),
            )
            if answer:
                return answer
        return []

    def lookup(self, hostname: str) -> Callable[[], Awaitable[list[str]]]:
        """The look-up of one name, to run unless the session has its answer."""
        return lambda: self.blocklist.check_rhsbl(hostname)

    def reject_action(self, check: str, hostname: str, info: str | None) -> str:
        """``reject`` and the message with the first ``%CHECK%``, ``%HOSTNAME%`` and ``%INFO%`` replaced."""
        message = self.reject_message.replace("%CHECK%", check, 1).replace("%HOSTNAME%", hostname, 1)
        return "reject " + message.replace("%INFO%", "" if info is None else f", {info}", 1)
