from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


async def test_action_answers_its_action_and_ends_the_chain(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("reject-all", module="Action", action="reject no reason"))
    assert await plugin.run(Request({})) == [PluginResult("reject no reason", abort=True)]


def test_action_requires_an_action(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> None:
    with pytest.raises(ConfigError, match="required option action is missing"):
        build_plugin(block("reject-all", module="Action"))
