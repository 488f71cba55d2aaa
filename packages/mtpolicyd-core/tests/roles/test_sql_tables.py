import pytest
from mtpolicyd_core.roles.sql_tables import create_sql_table, dbi_driver, quote_identifier, sql_table_exists
from sqlalchemy import create_engine

ZUMSEL = {"SQLite": "CREATE TABLE %TABLE_NAME% (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `ip` varchar(255))"}


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'tables.db'}")


def test_sqlite_is_the_dbi_driver_SQLite(engine):
    assert dbi_driver(engine) == "SQLite"


def test_table_exists_after_creation(engine):
    assert not sql_table_exists(engine, "zumsel")
    create_sql_table(engine, "zumsel", ZUMSEL, "MyISAM")
    assert sql_table_exists(engine, "zumsel")


def test_create_without_definition_for_the_driver_fails(engine):
    with pytest.raises(ValueError, match="no data definition for table t/SQLite found"):
        create_sql_table(engine, "t", {"mysql": "CREATE TABLE x"}, "MyISAM")


def test_create_falls_back_to_the_any_driver_definition(engine):
    with pytest.raises(Exception, match="syntax error"):
        create_sql_table(engine, "t", {"*": "bla"}, "MyISAM")
    with pytest.raises(Exception, match="blub"):
        create_sql_table(engine, "t", {"SQLite": "blub", "*": "bla"}, "MyISAM")


def test_table_names_are_quoted(engine):
    create_sql_table(engine, "odd name", ZUMSEL, "MyISAM")
    assert sql_table_exists(engine, "odd name")
    assert quote_identifier(engine, "odd name") == '"odd name"'
