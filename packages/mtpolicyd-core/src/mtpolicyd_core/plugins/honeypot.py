"""Honeypot: a client that mails a trap recipient is remembered and trapped for a while."""

from __future__ import annotations

from functools import cached_property
from typing import cast

from mtpolicyd_core.connections.key_value import KeyValueStore
from mtpolicyd_core.options import INT, NUM, STR, Option, maybe
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.perl.regex import perl_search
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.connections import ConnectionOption, UsesConnections
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


class Honeypot(Switchable, Scoring, NestedChain, UsesConnections, Plugin):
    """Recipients in ``recipients`` (or matching a regex in ``recipients_re``) are traps: a
    client_address that sends to one is kept in memcached for ``expire`` seconds, and
    every mail of a trapped client is answered ``reject <reject_message>`` (mode
    `reject`), or else gets ``score`` once per mail and runs the nested chain.
    """

    score = Option(maybe(NUM), doc="score added once per mail of a trapped client (mode other than reject)")
    mode = Option(
        STR,
        default="reject",
        doc="`reject`, or anything else to only score and run the nested chain",
        choices=("reject", "passive"),
        otherwise="scores and runs the nested chain, like passive",
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

    def store(self) -> KeyValueStore:
        """The memcached connection (mtpolicyd 2.05 has none in 2.x and fails; we use ``memcached``)."""
        return cast(KeyValueStore, self.connection_of("memcached"))

    def is_trap(self, recipient: str | None) -> bool:
        """Whether the recipient is a trap address."""
        value = recipient or ""
        return value in self.trap_recipients or any(
            perl_search(pattern, value) for pattern in self.trap_patterns
        )

    async def run(self, request: Request) -> list[PluginResult]:
        key = f"{self.name},{request.attr('client_address') or ''}"
        if perl_true(await self.store().get(key)):
            return await self.trapped(request)
        if self.is_trap(request.attr("recipient")):
            await self.store().set(key, b"1", self.expire)
            return await self.trapped(request)
        return []

    async def trapped(self, request: Request) -> list[PluginResult]:
        """The answer for a trapped client."""
        if self.mode == "reject":
            return [PluginResult(f"reject {self.reject_message}", abort=True)]
        self.add_score_once(request, f"{self.name}-score", self.score)
        return await self.action_or_chain(request, None)
