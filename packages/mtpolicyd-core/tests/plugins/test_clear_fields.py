from collections.abc import Callable

from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request


async def test_clear_fields_deletes_named_fields_and_prefixed_fields(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(
        block("cleanup", module="ClearFields", fields="zumsel", fields_prefix="sh_zen,sh_dbl")
    )
    session = {
        "_instance": "abcd1234",
        "zumsel": "x",
        "sh_zen": "x",
        "sh_zen_XBL": "x",
        "sh_zen_SBL": "x",
        "sh_dbl_helo": "x",
        "sh_dbl": "x",
        "bla": "x",
        "blub": "x",
    }
    assert await plugin.run(Request({}, session)) == []
    assert session == {"_instance": "abcd1234", "bla": "x", "blub": "x"}


async def test_clear_fields_splits_at_commas_with_blanks(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("cleanup", module="ClearFields", fields="a , b,c"))
    session = {"a": 1, "b": 2, "c": 3, "d": 4}
    await plugin.run(Request({}, session))
    assert session == {"d": 4}


async def test_clear_fields_with_empty_list_needs_no_session(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("cleanup", module="ClearFields", fields=""))
    assert await plugin.run(Request({}, None)) == []
