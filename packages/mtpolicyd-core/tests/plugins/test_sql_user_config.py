import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import NoSessionError, Request, Session
from sqlalchemy.engine import Engine

from plugins.connection_fakes import build, pool_of, sqlite_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = sqlite_engine(tmp_path / "uc.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE user_config (address VARCHAR(255), config TEXT)")
        for address, config in [
            ("user@example.com", json.dumps({"spam_score": "10", "greylisting": "off"})),
            ("broken@example.com", "{not json"),
            ("list@example.com", "[1, 2]"),
            ("null@example.com", "null"),
        ]:
            conn.exec_driver_sql("INSERT INTO user_config VALUES (?, ?)", (address, config))
    return engine


@pytest.fixture
def user_config(block: Callable[..., Block], engine: Engine) -> Callable[..., Awaitable[Plugin]]:
    async def make(**settings: str) -> Plugin:
        return await build(block("uc", module="SqlUserConfig", **settings), pool_of(db=("Sql", engine)))

    return make


async def test_sql_user_config_merges_the_json_object_into_the_session(
    user_config: Callable[..., Awaitable[Plugin]],
) -> None:
    session = {"spam_score": "5", "other": 1}
    assert await (await user_config()).run(Request({"recipient": "user@example.com"}, session)) == []
    assert session == {"spam_score": "10", "greylisting": "off", "other": 1}


async def test_sql_user_config_field_selects_the_key(user_config: Callable[..., Awaitable[Plugin]]) -> None:
    session: Session = {}
    await (await user_config(field="sasl_username")).run(
        Request({"sasl_username": "user@example.com"}, session)
    )
    assert session["greylisting"] == "off"


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"recipient": "  "},
        {"recipient": "nobody@example.com"},
        {"recipient": "broken@example.com"},
        {"recipient": "null@example.com"},  # Perl's keys %$config of undef: no keys
    ],
)
async def test_sql_user_config_without_usable_config_goes_on(
    user_config: Callable[..., Awaitable[Plugin]], attributes: dict[str, str]
) -> None:
    session: Session = {}
    assert await (await user_config()).run(Request(attributes, session)) == []
    assert session == {}


async def test_sql_user_config_that_is_not_an_object_fails_the_plugin(
    user_config: Callable[..., Awaitable[Plugin]],
) -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        await (await user_config()).run(Request({"recipient": "list@example.com"}, {}))


async def test_sql_user_config_needs_a_session_to_store_into(
    user_config: Callable[..., Awaitable[Plugin]],
) -> None:
    with pytest.raises(NoSessionError):
        await (await user_config()).run(Request({"recipient": "user@example.com"}, None))
