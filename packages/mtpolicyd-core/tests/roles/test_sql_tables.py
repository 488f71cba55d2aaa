from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.roles.sql_tables import create_sql_table, dbi_driver, quote_identifier, sql_table_exists

ZUMSEL = {"SQLite": "CREATE TABLE %TABLE_NAME% (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `ip` varchar(255))"}


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqlConnection]:
    connection = SqlConnection(ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path / 'tables.db'}"}))
    yield connection
    await connection.aclose()


async def test_sqlite_is_the_dbi_driver_SQLite(database: SqlConnection) -> None:
    assert dbi_driver(database.handle) == "SQLite"


async def test_table_exists_after_creation(database: SqlConnection) -> None:
    assert not await sql_table_exists(database, "zumsel")
    await create_sql_table(database, "zumsel", ZUMSEL, "MyISAM")
    assert await sql_table_exists(database, "zumsel")


async def test_create_without_definition_for_the_driver_fails(database: SqlConnection) -> None:
    with pytest.raises(ValueError, match="no data definition for table t/SQLite found"):
        await create_sql_table(database, "t", {"mysql": "CREATE TABLE x"}, "MyISAM")


async def test_create_falls_back_to_the_any_driver_definition(database: SqlConnection) -> None:
    with pytest.raises(Exception, match="syntax error"):
        await create_sql_table(database, "t", {"*": "bla"}, "MyISAM")
    with pytest.raises(Exception, match="blub"):
        await create_sql_table(database, "t", {"SQLite": "blub", "*": "bla"}, "MyISAM")


async def test_table_names_are_quoted(database: SqlConnection) -> None:
    await create_sql_table(database, "odd name", ZUMSEL, "MyISAM")
    assert await sql_table_exists(database, "odd name")
    assert quote_identifier(database.handle, "odd name") == '"odd name"'
