"""Role: SQL helpers of plugins that keep tables (the original's ``SqlUtils``).

Tables are created on first use from a DDL per DBI driver name (``mysql``,
``SQLite``, ``Pg``, or ``*`` for any); ``%TABLE_NAME%`` and, on MySQL/MariaDB,
``%MYSQL_ENGINE%`` are filled in quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from mtpolicyd_core.config.model import Dialect
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.connections.sql_statements import SqlResult, execute_sql
from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.roles.connections import ConnectionOption, UsesConnections

#: table DDL by DBI driver name (``*`` = any driver)
TableDefinition = Mapping[str, str]

#: SQLAlchemy dialect name → the Perl DBI driver name the DDL tables are keyed by
_DBI_DRIVERS = {"mysql": "mysql", "mariadb": "mysql", "sqlite": "SQLite", "postgresql": "Pg"}


def dbi_driver(engine: AsyncEngine) -> str:
    """The DBI driver name of an engine's database (``mysql``, ``SQLite``, ``Pg`` …)."""
    return _DBI_DRIVERS.get(engine.dialect.name, engine.dialect.name)


def quote_identifier(engine: AsyncEngine, name: str) -> str:
    """A table or column name quoted for the engine's SQL dialect."""
    return str(engine.dialect.identifier_preparer.quote_identifier(name))


async def sql_table_exists(connection: SqlConnection, name: str) -> bool:
    """Whether ``SELECT`` from the table works."""
    try:
        await execute_sql(connection, f"SELECT * FROM {quote_identifier(connection.handle, name)} WHERE 1=0")
    except SQLAlchemyError:
        return False
    return True


async def create_sql_table(
    connection: SqlConnection, name: str, definitions: TableDefinition, mysql_engine: str
) -> None:
    """Create a table from the DDL for this driver (or ``*``)."""
    engine = connection.handle
    driver = dbi_driver(engine)
    ddl = definitions.get(driver, definitions.get("*"))
    if ddl is None:
        raise ValueError(f"no data definition for table {name}/{driver} found")
    ddl = ddl.replace("%TABLE_NAME%", quote_identifier(engine, name))
    if driver == "mysql":
        ddl = ddl.replace("%MYSQL_ENGINE%", quote_identifier(engine, mysql_engine))
    await execute_sql(connection, ddl)


class SqlTables(UsesConnections):
    """Role: the plugin runs SQL on the connection named by ``db`` and may create its tables."""

    db = ConnectionOption("Sql", "db", doc="name of the SQL connection (1.x: the global `db_dsn`)")
    mysql_engine = Option(STR, default="MyISAM", doc="MySQL/MariaDB storage engine of tables created")
    dialect: Dialect

    @property
    def sql_connection(self) -> SqlConnection:
        """The SQL connection named by the ``db`` option."""
        connection = self.connection_of("db")
        assert isinstance(connection, SqlConnection)
        return connection

    @property
    def db_engine(self) -> AsyncEngine:
        """The SQLAlchemy engine of the ``db`` connection (for quoting names in its dialect)."""
        return self.sql_connection.handle

    def check_connections(self) -> None:
        if self.dialect == "1" and "db" not in self.connections.names():
            raise ValueError(f"no sql database initialized, but required for plugin {self.name}")
        super().check_connections()

    @property
    def table_engine(self) -> str:
        """The MySQL storage engine of new tables: 1.17 always used MyISAM, 2.x reads ``mysql_engine``."""
        return "MyISAM" if self.dialect == "1" else self.mysql_engine

    async def execute_sql(self, sql: str, *params: Any) -> SqlResult:
        """Run a DBI-style statement (``?`` placeholders) with bound parameters."""
        return await execute_sql(self.sql_connection, sql, params)

    async def check_sql_tables(self, tables: Mapping[str, TableDefinition]) -> None:
        """Create each missing table; ValueError names the table when that fails."""
        connection = self.sql_connection
        for name, definitions in tables.items():
            if await sql_table_exists(connection, name):
                continue
            try:
                await create_sql_table(connection, name, definitions, self.table_engine)
            except (SQLAlchemyError, ValueError) as error:
                raise ValueError(f"sql table {name} does not exist and creating it failed: {error}") from None
