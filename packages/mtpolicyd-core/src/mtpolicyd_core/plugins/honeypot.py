"""Honeypot: a client that mails a trap recipient is remembered and trapped for a while."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from mtpolicyd_core.options import INT, NUM, STR, Option, maybe
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.perl.regex import perl_search
from mtpolicyd_core.plugin import NestedChain, Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.connections import ConnectionOption, UsesConnections
from mtpolicyd_core.roles.scoring import Scoring


class Honeypot(Scoring, NestedChain, UsesConnections, Plugin):
    """Recipients in ``recipients`` (or matching a regex in ``recipients_re``) are traps: a
    client_address that sends to one is kept in memcached for ``expire`` seconds, and
    every mail of a trapped client is answered ``reject <reject_message>`` (mode
    `reject`), or else gets ``score`` once per mail and runs the nested chain.
    """

    enabled = Option(STR, default="on", user_config=True, doc="`off` disables the check")
    score = Option(maybe(NUM), doc="score added once per mail of a trapped client (mode other than reject)")
    mode = Option(
        STR, default="reject", doc="`reject`, or anything else to only score and run the nested chain"
    )
    recipients = Option(STR, default="", doc="comma-separated trap recipient addresses")
    recipients_re = Option(
        STR, default="", doc="comma-separated regular expressions (Perl) of trap recipients"
    )
    reject_message = Option(STR, default="trapped by honeypod", doc="text after `reject ` in mode reject")
    expire = Option(INT, default=str(60 * 60 * 2), doc="seconds a trapped client stays trapped")
    memcached = ConnectionOption("Memcached", "memcached", doc="memcached connection keeping trapped clients")

    @cached_property
    def trap_recipients(self) -> list[str]:
        """The trap addresses."""
        return comma_list(self.recipients)

    @cached_property
    def trap_patterns(self) -> list[str]:
        """The trap address patterns."""
        return comma_list(self.recipients_re)

    def store(self) -> Any:
        """The memcached client (mtpolicyd 2.05 has none in 2.x and fails; we use ``memcached``)."""
        return self.handle_of("memcached")

    def is_trap(self, recipient: str | None) -> bool:
        """Whether the recipient is a trap address."""
        value = recipient or ""
        return value in self.trap_recipients or any(
            perl_search(pattern, value) for pattern in self.trap_patterns
        )

    def run(self, request: Request) -> list[PluginResult]:
        if self.get_uc(request, "enabled") == "off":
            return []
        key = f"{self.name},{request.attr('client_address') or ''}"
        if self.store().get(key):
            return self.trapped(request)
        if self.is_trap(request.attr("recipient")):
            self.store().set(key, "1", expire=self.expire)
            return self.trapped(request)
        return []

    def trapped(self, request: Request) -> list[PluginResult]:
        """The answer for a trapped client."""
        if self.mode == "reject":
            return [PluginResult(f"reject {self.reject_message}", abort=True)]
        if self.score is not None and not request.is_already_done(f"{self.name}-score"):
            self.add_score(request, self.name, self.score)
        return self.action_or_chain(request, None)
