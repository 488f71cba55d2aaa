"""RBL: looks the client address up in a DNS blocklist (or allowlist)."""

from __future__ import annotations

from functools import cached_property

from mtpolicyd_core.lookups.dns import Blocklist, listing_info
from mtpolicyd_core.options import NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.numbers import Num
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


def rbl_mode_option() -> Option[str]:
    """The ``mode`` of RBL and RBLAction."""
    return mode_option("reject", ("reject", "accept", "passive"), "`reject`, `accept` or `passive`")


def rbl_reject_message_option() -> Option[str]:
    """The ``reject_message`` of RBL and RBLAction."""
    return Option(
        STR,
        default="delivery from %IP% rejected %INFO%",
        doc="text after `reject`; `%IP%` is the client address, `%INFO%` the list's TXT text in parentheses",
    )


class ListedAnswers(ModeAnswers, Scoring):
    """What RBL and RBLAction answer for a listed address: ``score`` once per mail, then by ``mode``
    a reject with ``reject_message``, dunno (only `accept`) or nothing."""

    accept_modes = ("accept",)
    name: str
    score: Num | None
    reject_message: str

    def listed_results(self, request: Request, mode: str, ip: str, info: str | None) -> list[PluginResult]:
        """Score the mail, then answer; ``%IP%`` and ``%INFO%`` (`(info)` or nothing) replaced once each."""
        self.add_score_once(request, f"rbl-{self.name}-score", self.score)
        message = self.reject_message.replace("%IP%", ip, 1)
        return self.mode_results(mode, "reject " + message.replace("%INFO%", f"({info})" if info else "", 1))


class RBL(Switchable, ListedAnswers, Plugin):
    """Looks ``client_address`` up in the DNS list ``domain``; a listed address adds ``score`` (once per
    mail) and is rejected (`mode = reject`), accepted (`accept`: dunno, ends the chain) or only scored
    (`passive`). The answer is kept in the session as `rbl-<name>-result` for RBLAction."""

    domain = Option(STR, required=True, doc="DNS zone of the list, e.g. `zen.spamhaus.org`")
    mode = rbl_mode_option()
    reject_message = rbl_reject_message_option()
    score = Option(maybe(NUM), doc="score added when the address is listed")

    @cached_property
    def blocklist(self) -> Blocklist:
        """The list zone, queried through the worker's resolver."""
        return Blocklist(self.domain, self.dns, self.logger)

    def result_key(self) -> str:
        """Where the session keeps this list's answer for the mail."""
        return f"rbl-{self.name}-result"

    def prefetch(self, request: Request) -> None:
        ip = request.attr("client_address") or ""
        if ip:
            request.prefetch(self.result_key(), lambda: self.blocklist.check(ip))

    async def run(self, request: Request) -> list[PluginResult]:
        mode = self.get_uc(request, "mode")
        ip = request.attr("client_address") or ""
        listing = await request.do_cached(self.result_key(), lambda: self.blocklist.check(ip))
        if not listing:
            self.debug(request, f"ip {ip} not on {self.domain} blacklist")
            return []
        info = listing_info(listing)
        self.debug(
            request, f"ip {ip} on {self.domain} blacklist" + (f" ({info})" if info is not None else "")
        )
        return self.listed_results(request, mode, ip, info)
