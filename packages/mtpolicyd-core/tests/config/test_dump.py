"""Writing a config tree back: the text parses to the same tree, for any value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mtpolicyd_core.config.dump import dump_config, quote_value
from mtpolicyd_core.config.parser import parse_config_text
from mtpolicyd_core.config.tree import Block, Location, Setting

_HERE = Location("generated.conf", 1)


def without_locations(block: Block) -> tuple[Any, ...]:
    """A block as nested tuples, locations left out."""
    return (
        block.kind,
        block.name,
        tuple(
            (entry.key, entry.value) if isinstance(entry, Setting) else without_locations(entry)
            for entry in block.entries
        ),
    )


_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:-]{0,12}", fullmatch=True)
_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_block_names = st.text(
    st.characters(codec="ascii", exclude_characters='#"\n\x00'), min_size=1, max_size=20
).filter(lambda name: "/*" not in name and "*/" not in name and "<<" not in name)


@st.composite
def _blocks(draw: st.DrawFn, kind: str, name: str | None, depth: int) -> Block:
    """A block whose keys and sub-blocks respect the no-duplicates rule."""
    keys = draw(st.lists(_keys, unique=True, max_size=5))
    entries: list[Setting | Block] = [Setting(key, draw(_values), _HERE) for key in keys]
    if depth < 2:
        kinds = draw(
            st.lists(
                st.sampled_from(["Plugin", "VirtualHost", "Connection", "SessionCache"]),
                unique=True,
                max_size=2,
            )
        )
        for sub_kind in (kind for kind in kinds if kind not in keys):
            names = draw(st.lists(_block_names, unique=True, min_size=1, max_size=2))
            unnamed = draw(st.booleans())
            for sub_name in [None] if unnamed else names:
                entries.append(draw(_blocks(sub_kind, sub_name, depth + 1)))
    order = draw(st.permutations(range(len(entries))))
    return Block(kind, name, _HERE, tuple(entries[index] for index in order))


@given(_blocks("", None, 0))
@settings(max_examples=300, deadline=None)
def test_dump_then_parse_gives_the_same_tree(root: Block) -> None:
    text = dump_config(root)
    assert without_locations(parse_config_text(text, "generated.conf")) == without_locations(root)


@given(_blocks("", None, 0))
@settings(max_examples=100, deadline=None)
def test_parse_dump_parse_is_stable(root: Block) -> None:
    text = dump_config(root)
    assert dump_config(parse_config_text(text)) == text


def test_values_with_comment_characters_are_escaped() -> None:
    assert quote_value('a # b "c" $d \\e') == '"a \\# b \\"c\\" \\$d \\\\e"'


def test_multi_line_and_c_comment_values_use_a_here_doc() -> None:
    root = Block("", None, _HERE, (Setting("text", "one\nEOT\n/* two */", _HERE),))
    text = dump_config(root)
    assert text.startswith("text <<EOTX\n")
    assert parse_config_text(text).get("text") == "one\nEOT\n/* two */"


def test_nested_blocks_are_indented() -> None:
    plugin = Block("Plugin", "a b", _HERE, (Setting("module", "Action", _HERE),))
    root = Block("", None, _HERE, (Block("VirtualHost", "12345", _HERE, (plugin,)),))
    assert dump_config(root) == (
        '<VirtualHost 12345>\n  <Plugin a b>\n    module = "Action"\n  </Plugin>\n</VirtualHost>\n'
    )


@pytest.mark.parametrize("key", ["", "a b", "a=b", "#a", "<a"])
def test_keys_that_cannot_be_written_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="cannot write option name"):
        dump_config(Block("", None, _HERE, (Setting(key, "v", _HERE),)))
