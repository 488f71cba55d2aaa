"""Config::General syntax: what the parser accepts, what it rejects, and that Perl agrees."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mtpolicyd_core.config.parser import parse_config_file, parse_config_text
from mtpolicyd_core.config.tree import Block, Setting
from mtpolicyd_core.errors import ConfigError

from .perl_oracle import PerlConfigGeneral, normalize_perl, perl_config_general_available, perl_shape


def values(block: Block) -> dict[str, str]:
    return {setting.key: setting.value for setting in block.settings()}


def parse(text: str) -> Block:
    return parse_config_text(text, "test.conf")


def test_key_value_forms_with_equals_space_and_no_space() -> None:
    root = parse("a = 1\nb 2\nc=3\nd\t=\t4\ne   five six\n")
    assert values(root) == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "five six"}


def test_double_quotes_are_stripped_single_quotes_kept() -> None:
    root = parse('a = "quoted value"\nb = \'single\'\nc = "x" "y"\n')
    assert values(root) == {"a": "quoted value", "b": "'single'", "c": 'x" "y'}


def test_hash_starts_a_comment_unless_escaped() -> None:
    root = parse('# whole line\na = x # trailing\nb = x \\# y\nc = "in # quotes"\n')
    assert values(root) == {"a": "x", "b": "x # y", "c": '"in'}


def test_backslash_escapes_in_values() -> None:
    assert values(parse('a = "q\\"uote \\$x back\\\\slash"\n')) == {"a": 'q"uote $x back\\slash'}


def test_option_without_value_reads_as_empty() -> None:
    assert values(parse("flag\nempty =\n")) == {"flag": "", "empty": ""}


def test_c_style_comments_on_one_and_several_lines() -> None:
    root = parse("a = 1 /* note */\n/* start\nb = 2\nend */\nc = 3\n")
    assert values(root) == {"a": "1", "c": "3"}


def test_line_continuation_joins_lines() -> None:
    root = parse("a = one \\\n    two \\\n  three\nb = 4\n")
    assert values(root) == {"a": "one two three", "b": "4"}
    assert (setting := root.setting("b")) is not None and setting.location.line == 4


def test_here_doc_keeps_lines_and_strips_indent_of_terminator() -> None:
    root = parse("a <<EOT\nline one # kept\n  line two\nEOT\nb = <<END\n    x\n      y\n    END\n")
    assert values(root) == {"a": "line one # kept\n  line two", "b": "x\n  y"}


def test_unterminated_here_doc_is_an_error_naming_its_start() -> None:
    with pytest.raises(ConfigError, match="here-doc a <<EOT is not terminated") as error:
        parse("x = 1\na <<EOT\nnever ends\n")
    assert (error.value.file, error.value.line) == ("test.conf", 2)


def test_nested_blocks_keep_file_order_and_locations() -> None:
    root = parse(
        "log_level = 2\n<VirtualHost 12345>\n  name = rep\n  <Plugin b>\n    module = X\n  </Plugin>\n"
        '  <Plugin a>\n    module = Y\n  </Plugin>\n</VirtualHost>\n<Plugin "quoted name">\n</Plugin>\n'
    )
    vhost = next(root.blocks("VirtualHost"))
    assert (vhost.name, vhost.location.line) == ("12345", 2)
    assert [(plugin.name, plugin.location.line) for plugin in vhost.blocks("Plugin")] == [("b", 4), ("a", 7)]
    assert [type(entry).__name__ for entry in root.entries] == ["Setting", "Block", "Block"]
    assert next(root.blocks("Plugin")).name == "quoted name"


def test_empty_block_shorthand() -> None:
    root = parse("<Plugin x/>\n")
    assert [(block.kind, block.name, block.entries) for block in root.blocks()] == [("Plugin", "x", ())]


def test_closing_tag_is_matched_case_insensitively() -> None:
    root = parse("<Plugin a>\nmodule = X\n</plugin>\n")
    assert next(root.blocks("Plugin")).get("module") == "X"


def test_wrong_closing_tag_says_what_was_expected() -> None:
    with pytest.raises(ConfigError, match=r"unexpected </VirtualHost>, expected </Plugin>") as error:
        parse("<VirtualHost 1>\n<Plugin foo>\n</VirtualHost>\n")
    assert error.value.line == 3


def test_block_left_open_at_end_of_file() -> None:
    with pytest.raises(ConfigError, match=r"unterminated block <Plugin foo> opened at line 1") as error:
        parse("<Plugin foo>\nmodule = X\n")
    assert error.value.line == 1


def test_closing_tag_without_open_block() -> None:
    with pytest.raises(ConfigError, match=r"unexpected </Plugin>: no block is open"):
        parse("a = 1\n</Plugin>\n")


def test_duplicate_option_reports_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"option a occurs more than once \(first at line 1") as error:
        parse("a = 1\nb = 2\na = 3\n")
    assert error.value.line == 3


def test_same_option_in_different_blocks_is_fine() -> None:
    root = parse("<Plugin a>\nmodule = X\n</Plugin>\n<Plugin b>\nmodule = X\n</Plugin>\n")
    assert [block.get("module") for block in root.blocks("Plugin")] == ["X", "X"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<Plugin a>\n</Plugin>\n<Plugin a>\n</Plugin>\n", r"block <Plugin a> occurs more than once \(first"),
        ("<Cache>\n</Cache>\n<Cache>\n</Cache>\n", r"block <Cache> occurs more than once"),
        ("<Plugin>\n</Plugin>\n<Plugin a>\n</Plugin>\n", r"block <Plugin a> cannot follow an unnamed"),
        ("Plugin = 1\n<Plugin a>\n</Plugin>\n", r"block <Plugin a> has the name of option Plugin"),
        ("<Plugin a>\n</Plugin>\nPlugin = 1\n", r"option Plugin has the name of block <Plugin>"),
    ],
)
def test_duplicate_blocks_are_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_include_reads_file_beside_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "plugins.conf").write_text("<Plugin inc>\nmodule = X\n</Plugin>\n")
    main = tmp_path / "main.conf"
    main.write_text("<VirtualHost 1>\n<<include sub/plugins.conf>>\n</VirtualHost>\n")
    vhost = next(parse_config_file(str(main)).blocks("VirtualHost"))
    plugin = next(vhost.blocks("Plugin"))
    assert plugin.name == "inc"
    assert plugin.location.file.endswith("sub/plugins.conf") and plugin.location.line == 1


def test_missing_include_is_an_error_at_the_include_line(tmp_path: Path) -> None:
    main = tmp_path / "main.conf"
    main.write_text("a = 1\n<<include nowhere.conf>>\n")
    with pytest.raises(ConfigError, match=r"included file nowhere\.conf does not exist") as error:
        parse_config_file(str(main))
    assert (error.value.file, error.value.line) == (str(main), 2)


def test_file_including_itself_is_read_once_with_a_warning(tmp_path: Path) -> None:
    main = tmp_path / "main.conf"
    main.write_text("a = 1\n<<include main.conf>>\n")
    warnings: list[str] = []
    assert values(parse_config_file(str(main), warnings)) == {"a": "1"}
    assert "already read" in warnings[0]


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        parse_config_file(str(tmp_path / "absent.conf"))


def test_invalid_utf8_names_the_line() -> None:
    with tempfile.NamedTemporaryFile("wb", suffix=".conf") as handle:
        handle.write(b"a = 1\nb = \xff\n")
        handle.flush()
        with pytest.raises(ConfigError, match="not valid UTF-8") as error:
            parse_config_file(handle.name)
        assert error.value.line == 2


@given(st.text(alphabet=st.sampled_from(list("ab =<>/\\\"'#*\n\t{}$EOT0 ")), max_size=200))
@settings(max_examples=400)
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse(text)


# --- the same results as Perl's Config::General ----------------------------------

_KEYS = st.sampled_from(["a", "b", "module", "name", "x_y", "0"])
_WORDS = st.sampled_from(
    ("v", "two words", "0", "x#y", "x\\#y", "\\\\", 'q\\"q', "'s'", "$v", "a=b", "/* c */", "*/", "<b/>")
)


@st.composite
def _value(draw: st.DrawFn) -> str:
    text = " ".join(draw(st.lists(_WORDS, min_size=0, max_size=3)))
    return f'"{text}"' if draw(st.booleans()) else text


@st.composite
def _config_text(draw: st.DrawFn) -> str:
    """Realistic-looking config text with comments, quotes, here-docs, continuations, blocks."""
    lines: list[str] = []
    open_kinds: list[str] = []
    for _ in range(draw(st.integers(0, 14))):
        indent = draw(st.sampled_from(["", "  ", "\t"]))
        choice = draw(st.integers(0, 9))
        if choice <= 3:
            separator = draw(st.sampled_from([" = ", "=", " ", "\t=  "]))
            comment = draw(st.sampled_from(["", " # note", " /* c */"]))
            lines.append(f"{indent}{draw(_KEYS)}{separator}{draw(_value())}{comment}")
        elif choice == 4:
            kind = draw(st.sampled_from(["Plugin", "VirtualHost", "SessionCache"]))
            name = draw(st.sampled_from(["", " p1", " p2", ' "quoted name"', " 12345"]))
            lines.append(f"{indent}<{kind}{name}>")
            open_kinds.append(kind)
        elif choice == 5 and open_kinds:
            kind = open_kinds.pop()
            lines.append(f"{indent}</{draw(st.sampled_from([kind, kind.lower()]))}>")
        elif choice == 6:
            terminator_indent = draw(st.sampled_from(["", "  "]))
            body = draw(st.lists(st.sampled_from(["  text # kept", "x", "", '"q"', "  EOTX"]), max_size=3))
            lines.extend([f"{indent}{draw(_KEYS)} <<EOT", *body, f"{terminator_indent}EOT"])
        elif choice == 7:
            lines.extend([f"{indent}{draw(_KEYS)} = first \\", f"{indent}  second"])
        elif choice == 8:
            lines.append(draw(st.sampled_from(["", "# comment", "/* one", "two */", "   "])))
        else:
            lines.append(f"{indent}{draw(_KEYS)}")
    lines.extend(f"</{kind}>" for kind in reversed(open_kinds))
    return "".join(line + "\n" for line in lines)


#: Where we reject on purpose what Config::General lets through (docs/decisions/0001).
_DELIBERATELY_STRICTER = ("is not terminated", "cannot follow an unnamed", "unexpected </")


@pytest.fixture(scope="module")
def perl_parser() -> Iterator[PerlConfigGeneral]:
    if not perl_config_general_available():
        pytest.fail(
            "the oracle needs perl with Config::General, Tie::IxHash and JSON::PP"
            " (Debian: mtpolicyd, as scripts/install-and-test installs)"
        )
    oracle = PerlConfigGeneral()
    yield oracle
    oracle.close()


@given(text=_config_text())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parse_matches_perl_config_general(perl_parser: PerlConfigGeneral, text: str, tmp_path: Path) -> None:
    path = tmp_path / "oracle.conf"
    path.write_text(text)
    perl = perl_parser.parse(str(path))
    try:
        ours = perl_shape(parse_config_file(str(path)))
    except ConfigError as error:
        deliberate = any(reason in error.message for reason in _DELIBERATELY_STRICTER)
        assert "error" in perl or deliberate, f"we reject what Config::General accepts: {error}"
        return
    assert "ok" in perl, f"Config::General rejects what we accept: {perl['error']}"
    assert ours == normalize_perl(perl["ok"])


def test_entries_are_settings_and_blocks_only() -> None:
    root = parse("a = 1\n<B>\n</B>\n")
    assert all(isinstance(entry, Setting | Block) for entry in root.entries)
