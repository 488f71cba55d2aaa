"""RBL: looks the client address up in a DNS blocklist (or allowlist)."""

from __future__ import annotations

from functools import cached_property

from mtpolicyd_core.lookups.dns import Blocklist, configured_resolver, listing_info
from mtpolicyd_core.options import NUM, STR, Option, maybe
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import Scoring


def rbl_reject_action(message: str, ip: str, info: str | None) -> str:
    """``reject`` and the message with the first ``%IP%`` and ``%INFO%`` (`(info)` or nothing) replaced."""
    message = message.replace("%IP%", ip, 1)
    return "reject " + message.replace("%INFO%", f"({info})" if info else "", 1)


def mode_results(mode: str, action: str) -> list[PluginResult]:
    """What a listed address answers: ``reject`` → the action, ``accept`` → dunno, else nothing."""
    if mode == "reject":
        return [PluginResult(action, abort=True)]
    if mode == "accept":
        return [PluginResult.dunno()]
    return []


class RBL(Scoring, Plugin):
    """Looks ``client_address`` up in the DNS list ``domain``; a listed address adds ``score`` (once per
    mail) and is rejected (`mode = reject`), accepted (`accept`: dunno, ends the chain) or only scored
    (`passive`). The answer is kept in the session as `rbl-<name>-result` for RBLAction."""

    domain = Option(STR, required=True, doc="DNS zone of the list, e.g. `zen.spamhaus.org`")
    enabled = Option(STR, default="on", user_config=True, doc="`off` disables the check")
    mode = Option(STR, default="reject", user_config=True, doc="`reject`, `accept` or `passive`")
    reject_message = Option(
        STR,
        default="delivery from %IP% rejected %INFO%",
        doc="text after `reject`; `%IP%` is the client address, `%INFO%` the list's TXT text in parentheses",
    )
    score = Option(maybe(NUM), doc="score added when the address is listed")

    @cached_property
    def blocklist(self) -> Blocklist:
        """The list zone, queried through the configured resolver."""
        return Blocklist(self.domain, configured_resolver(), self.logger)

    def run(self, request: Request) -> list[PluginResult]:
        mode = self.get_uc(request, "mode")
        if self.get_uc(request, "enabled") == "off":
            return []
        ip = request.attr("client_address") or ""
        listing = request.do_cached(f"rbl-{self.name}-result", lambda: self.blocklist.check(ip))
        if not listing:
            self.debug(request, f"ip {ip} not on {self.domain} blacklist")
            return []
        info = listing_info(listing)
        self.debug(
            request, f"ip {ip} on {self.domain} blacklist" + (f" ({info})" if info is not None else "")
        )
        if self.score is not None and not request.is_already_done(f"rbl-{self.name}-score"):
            self.add_score(request, self.name, self.score)
        return mode_results(mode, rbl_reject_action(self.reject_message, ip, info))
