from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.parser import parse_config_text
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.options import BOOL, INT, NUM, STR, Option, declared_options, maybe
from mtpolicyd_core.perl.numbers import Num
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.plugins.condition import Condition
from mtpolicyd_core.plugins.rbl import RBL
from mtpolicyd_core.plugins.score_action import ScoreAction


@pytest.mark.parametrize("text", ["5", "-5", "+5", "5.0", ".5", "-.5", "1e3", "1E-3", "+1.5e+2"])
def test_num_accepts_what_moose_num_accepts(text: str) -> None:
    value = NUM.convert(text)
    assert isinstance(value, Num)
    assert value.text == text


@pytest.mark.parametrize("text", ["5.", " 5", "5 ", "inf", "nan", "0x10", "", "five", "1e", "1_000"])
def test_num_rejects_what_moose_num_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        NUM.convert(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("-12", -12), ("007", 7)])
def test_int_accepts_moose_ints(text: str, value: int) -> None:
    assert INT.convert(text) == value


@pytest.mark.parametrize("text", ["+5", "5.0", " 5", "", "x"])
def test_int_rejects_non_moose_ints(text: str) -> None:
    with pytest.raises(ValueError):
        INT.convert(text)


@pytest.mark.parametrize(("text", "value"), [("1", True), ("0", False), ("", False)])
def test_bool_accepts_moose_bools(text: str, value: bool) -> None:
    assert BOOL.convert(text) is value


@pytest.mark.parametrize("text", ["on", "true", "yes", "2", "off"])
def test_bool_rejects_what_moose_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        BOOL.convert(text)


@given(st.from_regex(r"\A[+-]?([0-9]+|[0-9]*\.[0-9]+)([eE][+-]?[0-9]+)?\Z"))
def test_every_moose_number_converts_to_its_value(text: str) -> None:
    assert NUM.convert(text) == float(text)


def test_option_reports_type_name_and_default() -> None:
    option: Option[Num | None] = Option(maybe(NUM), default="5", user_config=True, doc="d")
    assert option.type_name == "Maybe[Num]"
    assert option.default == 5.0
    assert Option(STR).default is None


def test_option_parse_names_option_and_type() -> None:
    assert ScoreAction.threshold.parse("3") == 3.0
    with pytest.raises(ValueError, match="option threshold: expected Num"):
        ScoreAction.threshold.parse("x")


def test_declared_options_lists_base_role_and_own_options_once() -> None:
    names = [option.name for option in declared_options(Condition)]
    assert names[:3] == ["on_error", "log_level", "score_field"]
    assert names[3:] == ["key", "score", "action", "match", "re_match", "gt_match", "lt_match", "invert"]


def test_bad_option_value_is_a_config_error_with_file_and_line(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    with pytest.raises(ConfigError, match=r"test.conf line \d+: plugin cond: option invert: expected Bool"):
        build_plugin(block("cond", module="Condition", key="k", invert="on"))


def test_unknown_options_are_ignored_with_a_warning(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], caplog: pytest.LogCaptureFixture
) -> None:
    plugin = build_plugin(block("act", module="Action", action="reject", colour="blue"))
    assert plugin.option_values()["action"] == "reject"
    assert "unknown option colour ignored" in caplog.text


def test_uc_settings_only_for_user_config_options(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], caplog: pytest.LogCaptureFixture
) -> None:
    plugin = build_plugin(block("sa", module="ScoreAction", threshold="5", uc_threshold="t", uc_match="m"))
    assert plugin.user_config_fields == {"threshold": "t"}
    assert "unknown option uc_match ignored" in caplog.text


def test_a_value_outside_the_declared_choices_is_a_warning_saying_what_it_does() -> None:
    text = '<Plugin rbl>\n  module = "RBL"\n  domain = "bl.test"\n  mode = "passiv"\n</Plugin>\n'
    root = parse_config_text(text, "test.conf")
    context = PluginContext("test", "2", ConnectionPool(), build_chain)
    (plugin,) = build_chain(list(root.blocks("Plugin")), context).plugins
    assert cast(RBL, plugin).mode == "passiv"  # accepted, as the original accepts it
    assert context.warnings == [
        "test.conf line 4: plugin rbl: mode = 'passiv' is none of reject, accept, passive;"
        " the original accepts it too: it only scores, like passive"
    ]


def test_values_among_the_choices_give_no_warning() -> None:
    text = '<Plugin rbl>\n  module = "RBL"\n  domain = "bl.test"\n  mode = "accept"\n'
    text += "  enabled = off\n</Plugin>\n"
    context = PluginContext("test", "2", ConnectionPool(), build_chain)
    build_chain(list(parse_config_text(text, "test.conf").blocks("Plugin")), context)
    assert context.warnings == []


def test_choices_are_declared_for_modes_and_switches() -> None:
    options = {option.name: option for option in declared_options(RBL)}
    assert options["mode"].choices == ("reject", "accept", "passive")
    assert options["enabled"].choices == ("on", "off")
