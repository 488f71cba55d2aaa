"""The greylisting auto-whitelist: how often a (sender domain, client address) pair passed."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol

from sqlalchemy.exc import IntegrityError

from mtpolicyd_core.perl.numbers import perl_numify
from mtpolicyd_core.roles.sql_tables import TableDefinition

ONE_DAY = 24 * 60 * 60
AUTOWL_EXPIRE_DAYS = 60

AUTOWL_TABLE: TableDefinition = {
    "mysql": """CREATE TABLE %TABLE_NAME% (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `sender_domain` VARCHAR(255) NOT NULL,
    `client_ip` VARCHAR(39) NOT NULL,
    `count` INT UNSIGNED NOT NULL,
    `last_seen` INT UNSIGNED NOT NULL,
    PRIMARY KEY (`id`),
    UNIQUE KEY `domain_ip` (`client_ip`, `sender_domain`),
    KEY(`client_ip`),
    KEY(`sender_domain`)
  ) ENGINE=%MYSQL_ENGINE%  DEFAULT CHARSET=latin1""",
    "SQLite": """CREATE TABLE %TABLE_NAME% (
    `id` INTEGER PRIMARY KEY AUTOINCREMENT,
    `sender_domain` VARCHAR(255) NOT NULL,
    `client_ip` VARCHAR(39) NOT NULL,
    `count` INT UNSIGNED NOT NULL,
    `last_seen` INTEGER NOT NULL
)""",
}

#: runs a DBI-style statement with ``?`` parameters and gives its first row by column name
SqlRunner = Callable[..., Awaitable[Mapping[str, Any] | None]]


class AwlStore(Protocol):
    """Where the auto-whitelist lives.

    ``get`` answers None for a missing entry; ``missing_is_a_value`` tells whether the
    original's back-end still returned one (undefined) value then, which its 2.x plugin counts.
    """

    missing_is_a_value: ClassVar[bool]

    async def get(self, sender_domain: str | None, client_ip: str | None) -> Any: ...

    async def create(self, sender_domain: str | None, client_ip: str | None) -> None: ...

    async def incr(self, sender_domain: str | None, client_ip: str | None) -> None: ...

    async def remove(self, sender_domain: str | None, client_ip: str | None) -> None: ...

    async def expire(self) -> None: ...


def now() -> int:
    """The current epoch second."""
    return int(time.time())


class SqlAwl:
    """The auto-whitelist in an SQL table; rows expire ``autowl_expire_days`` after last seen."""

    missing_is_a_value: ClassVar[bool] = False

    def __init__(
        self, run_sql: SqlRunner, table: str = "autowl", expire_days: int = AUTOWL_EXPIRE_DAYS
    ) -> None:
        self.run_sql = run_sql
        self.table = table
        self.expire_days = expire_days

    async def row(self, sender_domain: str | None, client_ip: str | None) -> Mapping[str, Any] | None:
        """The pair's row as stored, expired or not."""
        return await self.run_sql(
            f"SELECT * FROM {self.table} WHERE sender_domain=? AND client_ip=?", sender_domain, client_ip
        )

    def is_expired(self, row: Mapping[str, Any]) -> bool:
        """Whether the row was last seen more than ``autowl_expire_days`` ago."""
        return now() > perl_numify(row.get("last_seen")) + ONE_DAY * self.expire_days

    async def get(self, sender_domain: str | None, client_ip: str | None) -> Any:
        """The pass count of a live entry, None when there is none."""
        row = await self.row(sender_domain, client_ip)
        if row is None or self.is_expired(row):
            return None
        return row.get("count")

    async def create(self, sender_domain: str | None, client_ip: str | None) -> None:
        """The pair's first pass; if another host created its row meanwhile (unique key), count this pass."""
        try:
            await self.run_sql(
                f"INSERT INTO {self.table} VALUES(NULL, ?, ?, 1, {now()})", sender_domain, client_ip
            )
        except IntegrityError:
            await self.incr(sender_domain, client_ip)

    async def incr(self, sender_domain: str | None, client_ip: str | None) -> None:
        await self.run_sql(
            f"UPDATE {self.table} SET count=count+1, last_seen={now()} WHERE sender_domain=? AND client_ip=?",
            sender_domain,
            client_ip,
        )

    async def remove(self, sender_domain: str | None, client_ip: str | None) -> None:
        await self.run_sql(
            f"DELETE FROM {self.table} WHERE sender_domain=? AND client_ip=?", sender_domain, client_ip
        )

    async def expire(self) -> None:
        """Delete rows not seen within ``autowl_expire_days``."""
        await self.run_sql(
            f"DELETE FROM {self.table} WHERE ? > last_seen + ?", now(), ONE_DAY * self.expire_days
        )


class RedisAwl:
    """The auto-whitelist in Redis under ``<prefix>,<domain>,<ip>``; Redis expires the keys.

    ``connection`` gives the Redis connection, whose commands are tried again during a fail-over.
    """

    missing_is_a_value: ClassVar[bool] = True

    def __init__(
        self, connection: Callable[[], Any], prefix: str = "awl-", expire_days: int = AUTOWL_EXPIRE_DAYS
    ) -> None:
        self.connection = connection
        self.prefix = prefix
        self.expire_days = expire_days

    def key(self, sender_domain: str | None, client_ip: str | None) -> str:
        """The Redis key of a pair."""
        return ",".join((self.prefix, sender_domain or "", client_ip or ""))

    async def get(self, sender_domain: str | None, client_ip: str | None) -> Any:
        value = await self.connection().get(self.key(sender_domain, client_ip))
        return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value

    async def create(self, sender_domain: str | None, client_ip: str | None) -> None:
        await self.connection().set(self.key(sender_domain, client_ip), b"1", ONE_DAY * self.expire_days)

    async def incr(self, sender_domain: str | None, client_ip: str | None) -> None:
        key = self.key(sender_domain, client_ip)
        await self.connection().incr(key)
        await self.connection().expire(key, ONE_DAY * self.expire_days)

    async def remove(self, sender_domain: str | None, client_ip: str | None) -> None:
        await self.connection().delete(self.key(sender_domain, client_ip))

    async def expire(self) -> None:
        """Nothing to do: Redis drops old entries itself."""
