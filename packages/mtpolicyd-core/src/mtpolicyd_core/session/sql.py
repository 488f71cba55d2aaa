"""Session primitives in an SQL table (SQLite, MariaDB): one row per key with its expiry.

A lock is an INSERT on the unique key; an expired lock is taken over by a single
conditional UPDATE, so two workers can never both win it. The table is created on
first use.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, and_
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.session.steps import OneAfterAnother

DEFAULT_TABLE = "mtpolicyd_session"
#: stores between two sweeps of expired rows (per worker)
SWEEP_EVERY = 100
#: MariaDB/MySQL errors of concurrent writers: deadlock victim, lock wait timeout
CONTENTION_CODES = (1213, 1205)
#: attempts of a write that must not be given up on contention (releasing a lock, storing)
WRITE_ATTEMPTS = 5


def session_table(name: str) -> Table:
    """``key`` (unique), ``value`` (session JSON or lock token), ``expires`` (epoch milliseconds)."""
    return Table(
        name,
        MetaData(),
        Column("key", String(255), primary_key=True),
        Column("value", LargeBinary(2**24 - 1), nullable=False),
        Column("expires", BigInteger, nullable=False, index=True),
    )


def is_contention(error: OperationalError) -> bool:
    """A deadlock victim or lock-wait timeout (MariaDB), or a busy database (SQLite): nothing changed."""
    code = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return code in CONTENTION_CODES or "database is locked" in str(error.orig)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


class SqlBackend(OneAfterAnother):
    """Sessions and locks in one table of the connection's database."""

    errors: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)
    hash_tags = False

    def __init__(self, connection: SqlConnection, table: str = DEFAULT_TABLE) -> None:
        self.connection = connection
        self.table = session_table(table)
        self._table_ready = False
        self._stores = 0

    @classmethod
    def for_session(cls, connection: SqlConnection, config: SessionCacheConfig) -> SqlBackend:
        """The back-end over ``connection`` in the ``table`` the ``<SessionCache>`` names."""
        return cls(connection, config.options.get("table", DEFAULT_TABLE))

    def describe(self) -> str:
        """The connection and table, for error messages."""
        return f"{self.connection.describe()} table {self.table.name}"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on the connection, the table created first if this worker has not yet."""
        if not self._table_ready:
            async with self.connection.transaction() as conn:
                await conn.run_sync(self._create_table)
            self._table_ready = True
        async with self.connection.transaction() as conn:
            yield conn

    def _create_table(self, conn: sqlalchemy.Connection) -> None:
        try:
            self.table.create(conn, checkfirst=True)
        except SQLAlchemyError:
            # another worker may have created it between our check and our CREATE
            if not sqlalchemy.inspect(conn).has_table(self.table.name):
                raise

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """INSERT the lock row; if it exists but expired, take it over atomically.

        Losing to a concurrent writer (deadlock victim, busy database) counts as "locked".
        """
        now = now_ms()
        row = {"key": key, "value": token.encode(), "expires": now + ttl * 1000}
        takeover = (
            self.table.update()
            .where(and_(self.table.c.key == key, self.table.c.expires < now))
            .values(value=row["value"], expires=row["expires"])
        )
        try:
            try:
                async with self.transaction() as conn:
                    await conn.execute(self.table.insert().values(row))
                return True
            except IntegrityError:
                async with self.transaction() as conn:
                    return (await conn.execute(takeover)).rowcount == 1
        except OperationalError as error:
            if is_contention(error):
                return False
            raise

    async def _write(self, statement: Executable) -> int:
        """Run one write, again when it lost to a concurrent writer; the rows it matched."""
        attempt = 1
        while True:
            try:
                async with self.transaction() as conn:
                    return (await conn.execute(statement)).rowcount
            except OperationalError as error:
                if attempt == WRITE_ATTEMPTS or not is_contention(error):
                    raise
                attempt += 1

    async def delete_lock(self, key: str, token: str) -> None:
        """DELETE the lock row while it holds our token."""
        await self._write(
            self.table.delete().where(and_(self.table.c.key == key, self.table.c.value == token.encode()))
        )

    async def get(self, key: str) -> bytes | None:
        """The value of an unexpired row."""
        query = sqlalchemy.select(self.table.c.value).where(
            and_(self.table.c.key == key, self.table.c.expires >= now_ms())
        )
        async with self.transaction() as conn:
            value = (await conn.execute(query)).scalar()
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """UPDATE the row, or INSERT it; every SWEEP_EVERY stores also delete expired rows."""
        expires = now_ms() + ttl * 1000
        update = self.table.update().where(self.table.c.key == key).values(value=value, expires=expires)
        if await self._write(update) == 0:
            await self._write(self.table.insert().values(key=key, value=value, expires=expires))
        self._stores += 1
        if self._stores % SWEEP_EVERY == 0:
            await self.sweep()

    async def sweep(self) -> None:
        """Delete expired sessions and locks."""
        await self._write(self.table.delete().where(self.table.c.expires < now_ms()))

    def reconnect(self) -> None:
        """Forget the parent's engine."""
        self.connection.reconnect()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()
