"""Greylist: defers the first delivery attempt of a (sender, client, recipient) triplet.

Tickets (when a triplet may pass) live in memcached or Redis; the auto-whitelist
of (sender domain, client address) pairs that passed lives in SQL or Redis.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import Connection
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.options import BOOL, INT, NUM, STR, Option, maybe
from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.plugins.greylist.awl import AUTOWL_EXPIRE_DAYS, AUTOWL_TABLE, AwlStore, RedisAwl, SqlAwl
from mtpolicyd_core.plugins.greylist.ticket import (
    MAX_RETRY_WAIT,
    MIN_RETRY_WAIT,
    Tickets,
    is_valid,
    ticket_key,
)
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.connections import checked_connection
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.sql_tables import SqlTables
from mtpolicyd_core.roles.switch import Switchable

__all__ = ["Greylist"]

#: 2.x back-end kinds, their modules and the default module
BACKEND_MODULES = {"AWL": ("Redis", "Sql"), "Ticket": ("Memcached", "Redis")}
DEFAULT_BACKENDS = {"AWL": "Sql", "Ticket": "Memcached"}


def sender_domain(sender: str | None) -> str | None:
    """The domain of a sender address; the whole sender when it has no ``@``."""
    if sender is None or "@" not in sender:
        return sender
    match = re.search(r"@([^@]+)$", sender)
    return match.group(1) if match else None


def backend_module(block: Block, kind: str, warn: Callable[[str], None]) -> str:
    """The ``module`` of the plugin's ``<AWL>``/``<Ticket>`` block (2.x), or the default."""
    blocks = list(block.blocks(kind))
    if not blocks:
        return DEFAULT_BACKENDS[kind]
    backend = blocks[-1]
    module = backend.get("module")
    if module is None:
        raise ValueError(f"module must be specified for {kind} backend!")
    if module not in BACKEND_MODULES[kind]:
        known = ", ".join(BACKEND_MODULES[kind])
        raise ValueError(f"could not load {kind} backend: unknown module {module} (known: {known})")
    for setting in backend.settings():
        if setting.key != "module":
            # mtpolicyd 2.05 creates its back-ends without their options; so do we.
            warn(f"{setting.location}: <{kind}> option {setting.key} ignored (back-ends use their defaults)")
    return module


class Greylist(Switchable, Scoring, SqlTables, Plugin):
    """Greylisting with an auto-whitelist. The first attempt of a (sender, client_address,
    recipient) triplet is deferred with ``defer_message`` and a ticket is created; a retry
    after ``min_retry_wait`` (and before ``max_retry_wait``) passes: the score is added,
    ``mode`` accept/dunno answered (passive: nothing) and the (sender domain, client)
    pair counted in the auto-whitelist. Pairs that passed ``autowl_threshold`` times
    skip greylisting.

    1.x: tickets in the global memcached, auto-whitelist in the SQL table ``autowl``.
    2.x: ``<Ticket> module = Memcached|Redis </Ticket>`` and ``<AWL> module = Sql|Redis
    </AWL>`` blocks choose the stores (connections ``memcached``, ``redis``, ``db``);
    as in mtpolicyd 2.05 the stores use their default timings and other options in
    those blocks are ignored. The ``hourly`` cron task expires auto-whitelist rows.
    """

    score = Option(maybe(NUM), doc="score added once per mail when the client passed (e.g. -10)")
    mode = Option(
        STR,
        default="passive",
        doc="on a pass: `accept` or `dunno` end the chain; `passive` goes on",
        choices=("passive", "accept", "dunno"),
        otherwise="a pass answers nothing, like passive",
    )
    defer_message = Option(STR, default="defer greylisting is active", doc="action answered when deferring")
    append_waittime = Option(BOOL, default="1", doc="append ` (Ns left)` when a client retries too early")
    use_autowl = Option(BOOL, default="1", doc="use the auto-whitelist")
    autowl_threshold = Option(
        INT, default="3", doc="passes of a sender domain/client pair before it is whitelisted"
    )
    query_autowl = Option(BOOL, default="1", doc="look up the auto-whitelist (0: only tickets)")
    create_ticket = Option(
        BOOL, default="1", doc="create tickets for new triplets (0: only check existing ones)"
    )
    min_retry_wait = Option(
        INT, default=str(MIN_RETRY_WAIT), doc="1.x only: seconds a client must wait to retry"
    )
    max_retry_wait = Option(INT, default=str(MAX_RETRY_WAIT), doc="1.x only: seconds a ticket lives")
    autowl_expire_days = Option(
        INT, default=str(AUTOWL_EXPIRE_DAYS), doc="1.x only: days an unused whitelist entry lives"
    )
    autowl_table = Option(STR, default="autowl", doc="1.x only: SQL table of the auto-whitelist")

    awl: AwlStore
    tickets: Tickets
    #: whether startup must check the auto-whitelist's SQL table
    awl_in_sql = False

    @classmethod
    def from_block(cls, block: Block, context: PluginContext) -> Plugin:
        plugin = super().from_block(block, context)
        assert isinstance(plugin, Greylist)
        try:
            plugin.open_stores(block, context.warnings)
        except ValueError as error:
            where = block.location
            raise ConfigError(
                f"could not initialize plugin {plugin.name}: {error}", where.file, where.line
            ) from None
        return plugin

    def connection(self, name: str, module: str) -> Callable[[], Any]:
        """The connection ``name`` (checked now, as the original fails at start-up without it)."""
        connection: Connection = checked_connection(self.connections, name, module, f"plugin {self.name}")
        return lambda: connection

    async def sql_row(self, sql: str, *params: Any) -> Any:
        """The first row of a DBI-style statement by column name."""
        return (await self.execute_sql(sql, *params)).first_mapping()

    def open_stores(self, block: Block, warnings: list[str]) -> None:
        """Choose and check the ticket and auto-whitelist stores of this dialect."""
        if self.dialect == "1":
            self.check_connections()
            self.awl = SqlAwl(self.sql_row, self.autowl_table, self.autowl_expire_days)
            self.awl_in_sql = bool(self.use_autowl)
            self.tickets = Tickets(
                self.connection("memcached", "Memcached"), self.min_retry_wait, self.max_retry_wait
            )
            return

        def warn(message: str) -> None:
            warnings.append(message)
            self.logger.warning("%s", message)

        if backend_module(block, "AWL", warn) == "Sql":
            self.check_connections()
            self.awl = SqlAwl(self.sql_row)
            self.awl_in_sql = True
        else:
            redis = self.connection("redis", "Redis")
            self.awl = RedisAwl(redis)
        ticket_module = backend_module(block, "Ticket", warn)
        self.tickets = Tickets(self.connection(ticket_module.lower(), ticket_module))

    async def startup(self) -> None:
        if self.awl_in_sql:
            await self.check_sql_tables({"autowl": AUTOWL_TABLE})

    async def run(self, request: Request) -> list[PluginResult]:
        sender, client_address, recipient = (
            request.attr(name) for name in ("sender", "client_address", "recipient")
        )
        triplet = ",".join(part or "" for part in (sender, client_address, recipient))
        if self.use_autowl and self.query_autowl:

            async def autowl() -> list[int]:
                return [await self.is_autowl(request, sender, client_address)]

            (listed,) = await request.do_cached("greylist-is_autowl", autowl)
            if listed:
                self.debug(request, "client on greylist autowl")
                return self.success(request)
        key = ticket_key(sender, client_address, recipient)
        found = await request.do_cached("greylist-ticket", lambda: self.ticket_list(key))
        ticket = found[0] if found else None
        if ticket is not None:
            if is_valid(ticket):
                self.debug(request, f"{triplet} has a valid greylisting ticket")
                if self.use_autowl and not request.is_already_done("greylist-autowl-add"):
                    await self.add_autowl(request, sender, client_address)
                await self.tickets.remove(key)
                return self.success(request)
            self.debug(request, f"{triplet} has a invalid greylisting ticket. wait again")
            return [self.defer(ticket)]
        if self.create_ticket:
            self.debug(request, "creating new greylisting ticket")
            await self.tickets.create(key)
            return [self.defer(None)]
        return []

    async def ticket_list(self, key: str) -> list[int]:
        """The triplet's ticket as a one-item list, empty without one (the value cached per mail)."""
        ticket = await self.tickets.get(key)
        return [] if ticket is None else [ticket]

    def defer(self, ticket: int | None) -> PluginResult:
        """The defer action, with the seconds left when the client retried too early."""
        message = self.defer_message
        if ticket is not None and self.append_waittime:
            message += f" ({ticket - int(time.time())}s left)"
        return PluginResult(message, abort=True)

    def success(self, request: Request) -> list[PluginResult]:
        """The client passed: add the score once per mail; answer ``mode`` when it is accept/dunno."""
        self.add_score_once(request, "greylist-score", self.score)
        if self.mode in ("accept", "dunno"):
            return [PluginResult(self.mode, abort=True)]
        return []

    async def awl_entry(self, request: Request, domain: str | None, client_address: str | None) -> Any:
        """The cached auto-whitelist look-up: 1.x the row; 2.x what mtpolicyd 2.05 reads as the count.

        2.05 assigns its per-mail cached look-up to a scalar, which gives the number of
        cached values (1 when the store returned an entry, or Redis an undefined value; 0
        otherwise) rather than the count itself, except without a session or caching.
        """
        if self.dialect == "1":
            assert isinstance(self.awl, SqlAwl)
            awl = self.awl

            async def row() -> list[Any]:
                return [await awl.row(domain, client_address)]

            (found,) = await request.do_cached("greylist-autowl-row", row)
            return found

        async def lookup() -> list[Any]:
            count = await self.awl.get(domain, client_address)
            return [count] if count is not None or self.awl.missing_is_a_value else []

        if request.session is None or not request.use_caching:
            values = await lookup()
            return values[0] if values else None
        return len(await request.do_cached("greylist-autowl-count", lookup))

    async def is_autowl(self, request: Request, sender: str | None, client_address: str | None) -> int:
        """1 when the pair reached the threshold (its entry is then refreshed), else 0."""
        domain = sender_domain(sender)
        entry = await self.awl_entry(request, domain, client_address)
        if entry is None:
            self.debug(request, "client is not on autowl")
            return 0
        count = entry
        if self.dialect == "1":
            assert isinstance(self.awl, SqlAwl)
            if self.awl.is_expired(entry):
                self.debug(request, "removing expired autowl row")
                await self.awl.remove(domain, client_address)
                return 0
            count = entry.get("count")
        if perl_numify(count) < self.autowl_threshold:
            self.debug(request, "client has not yet reached autowl_threshold")
            return 0
        if self.dialect == "1":
            self.debug(request, "client has valid autowl row. updating row")
        else:
            self.debug(request, "client has valid autowl. updating database")
        await self.awl.incr(domain, client_address)
        return 1

    async def add_autowl(self, request: Request, sender: str | None, client_address: str | None) -> None:
        """Count a pass of the pair: increment a known entry, or create it."""
        domain = sender_domain(sender)
        if await self.awl_entry(request, domain, client_address) is not None:
            self.debug(request, "client already on autowl, just incrementing count")
            await self.awl.incr(domain, client_address)
            return
        self.debug(request, "creating initial autowl entry")
        await self.awl.create(domain, client_address)

    async def cron(self, tasks: Iterable[str]) -> None:
        """``hourly``: delete expired auto-whitelist entries (mtpolicyd 2.05 fails here; we do the work).
        Tickets need no expiring: memcached and Redis drop them themselves."""
        if "hourly" in list(tasks):
            self.logger.info("expiring greylist autowl...")
            await self.awl.expire()
            if self.dialect == "2":
                self.logger.info("expiring greylist tickets...")
