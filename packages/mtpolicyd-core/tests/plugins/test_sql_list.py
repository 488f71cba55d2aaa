from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import PluginResult
from sqlalchemy.engine import Engine

from plugins.chain_answer import answer
from plugins.connection_fakes import build, pool_of, sqlite_engine

QUERY = "SELECT client_ip FROM whitelist WHERE client_ip=?"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = sqlite_engine(tmp_path / "list.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE whitelist (client_ip VARCHAR(64), flag INT)")
        conn.exec_driver_sql("INSERT INTO whitelist VALUES ('192.0.2.1', 1), ('192.0.2.9', 0)")
    return engine


@pytest.fixture
def sql_list(block: Callable[..., Block], engine: Engine) -> Callable[..., Awaitable[Plugin]]:
    async def make(dialect: str = "2", **settings: str) -> Plugin:
        settings.setdefault("sql_query", QUERY)
        return await build(block("wl", module="SqlList", **settings), pool_of(db=("Sql", engine)), dialect)

    return make


async def test_sql_list_match_action_when_query_finds_a_row(
    sql_list: Callable[..., Awaitable[Plugin]],
) -> None:
    plugin = await sql_list(match_action="accept", not_match_action="reject")
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, {})) == [
        PluginResult("accept", abort=True)
    ]
    assert await plugin.run(Request({"client_address": "192.0.2.2"}, {})) == [
        PluginResult("reject", abort=True)
    ]


async def test_sql_list_score_added_once_per_mail(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await sql_list(score="-5")
    session: Session = {}
    request = Request({"client_address": "192.0.2.1"}, session)
    assert await plugin.run(request) == []
    await plugin.run(request)
    assert session["score"] == -5
    assert session["score_detail"] == "wl=-5"


async def test_sql_list_caches_the_lookup_per_mail(
    sql_list: Callable[..., Awaitable[Plugin]], engine: Engine
) -> None:
    plugin = await sql_list(match_action="accept")
    session: Session = {}
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, session))
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM whitelist")
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, session)) == [
        PluginResult("accept", abort=True)
    ]


async def test_sql_list_any_row_matches_with_session_first_column_must_be_true_without(
    sql_list: Callable[..., Awaitable[Plugin]],
) -> None:
    plugin = await sql_list(sql_query="SELECT flag FROM whitelist WHERE client_ip=?", match_action="accept")
    assert await plugin.run(Request({"client_address": "192.0.2.9"}, {})) == [
        PluginResult("accept", abort=True)
    ]
    assert await plugin.run(Request({"client_address": "192.0.2.9"}, None)) == []
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, None)) == [
        PluginResult("accept", abort=True)
    ]


async def test_sql_list_2x_field_selects_the_parameter(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await sql_list(field="sender", match_action="accept")
    assert await plugin.run(Request({"sender": "192.0.2.1", "client_address": "x"}, {})) == [
        PluginResult("accept", abort=True)
    ]


async def test_sql_list_1x_always_looks_up_client_address(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await sql_list("1", field="sender", match_action="accept")
    assert await plugin.run(Request({"sender": "192.0.2.1", "client_address": "x"}, {})) == []
    assert await plugin.run(Request({"sender": "x", "client_address": "192.0.2.1"}, {})) == [
        PluginResult("accept", abort=True)
    ]


async def test_sql_list_missing_field_does_nothing(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    assert await (await sql_list(not_match_action="reject")).run(Request({}, {})) == []


async def test_sql_list_disabled_by_user_config(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await sql_list(match_action="accept", uc_enabled="wl_enabled")
    assert await answer(plugin, Request({"client_address": "192.0.2.1"}, {"wl_enabled": "off"})) == []


async def test_sql_list_parameter_is_bound_not_pasted(sql_list: Callable[..., Awaitable[Plugin]]) -> None:
    plugin = await sql_list(match_action="accept")
    assert await plugin.run(Request({"client_address": "x' OR '1'='1"}, {})) == []


async def test_sql_list_without_db_connection_fails_at_start(block: Callable[..., Block]) -> None:
    with pytest.raises(ConfigError, match="no connection db configured!"):
        await build(block("wl", module="SqlList"), pool_of())


async def test_sql_list_1x_without_database_names_the_plugin(block: Callable[..., Block]) -> None:
    with pytest.raises(ConfigError, match="no sql database initialized, but required for plugin wl"):
        await build(block("wl", module="SqlList"), pool_of(), "1")


async def test_sql_list_connection_of_another_module_is_refused(block: Callable[..., Block]) -> None:
    with pytest.raises(ConfigError, match="connection db is a Redis connection"):
        await build(block("wl", module="SqlList"), pool_of(db=("Redis", object())))


async def test_sql_list_db_option_names_the_connection(block: Callable[..., Block], engine: Engine) -> None:
    plugin = await build(
        block("wl", module="SqlList", db="lists", sql_query=QUERY, match_action="accept"),
        pool_of(lists=("Sql", engine)),
    )
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, {})) == [
        PluginResult("accept", abort=True)
    ]
