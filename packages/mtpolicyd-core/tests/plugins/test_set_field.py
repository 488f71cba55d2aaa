from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import NoSessionError, Request


async def test_set_field_stores_the_value_and_answers_nothing(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("set", module="SetField", key="mail-is-scanned", value="1"))
    session = {"_instance": "abc"}
    assert await plugin.run(Request({}, session)) == []
    assert session["mail-is-scanned"] == "1"


async def test_set_field_fails_without_a_session(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("set", module="SetField", key="k", value="v"))
    with pytest.raises(NoSessionError):
        await plugin.run(Request({}, None))
