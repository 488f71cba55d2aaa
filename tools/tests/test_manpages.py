"""The committed man pages are what the parsers, option declarations and docs make now, and complete."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import mtpolicyd_server.cli
import pytest
from mtpolicyd_core.options import declared_options
from mtpolicyd_core.reports.docgen import load_plugins
from policy_sim.cli import build_parser

from tools import manpages
from tools.markdown_roff import escape_code

MAN = manpages.ROOT / "man"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return manpages.render_all()


def test_committed_man_pages_are_up_to_date(pages: dict[str, str]) -> None:
    stale = [name for name, text in pages.items() if (MAN / name).read_text(encoding="utf-8") != text]
    assert not stale, f"man pages out of date: {stale}; run `{manpages.COMMAND}` (or tox -e docs)"


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_mtpolicyd_option_is_in_its_page(pages: dict[str, str]) -> None:
    parser = manpages.mtpolicyd_parser()
    assert "--foreground" in option_strings(parser)
    for option in option_strings(parser):
        assert f"\\fB{escape_code(option)}\\fR" in pages["mtpolicyd.8"], option


def test_mtpolicyd_parser_is_the_one_behind_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        mtpolicyd_server.cli.parse_args(["--help"])
    assert capsys.readouterr().out == manpages.mtpolicyd_parser().format_help()


def test_every_policy_sim_command_and_option_is_in_its_page(pages: dict[str, str]) -> None:
    parser = build_parser()
    commands = manpages.subcommands(parser)
    assert {command.prog for command in commands} >= {"policy-sim replay", "policy-sim load"}
    for command in [parser, *commands]:
        for option in option_strings(command):
            assert f"\\fB{escape_code(option)}\\fR" in pages["policy-sim.1"], (command.prog, option)
    for command in commands:
        assert f'.SS "{command.prog.split(" ", 1)[1]}"' in pages["policy-sim.1"]


def test_every_plugin_and_option_is_in_the_config_page(pages: dict[str, str]) -> None:
    plugins = load_plugins()
    assert len(plugins) >= 29
    for name, plugin in plugins.items():
        assert not isinstance(plugin, str), f"{name} could not be loaded: {plugin}"
        assert f'.SS "{name}"' in pages["mtpolicyd.conf.5"]
        for option in declared_options(plugin):
            assert f"\\fB{escape_code(option.name)}\\fR (" in pages["mtpolicyd.conf.5"], (name, option.name)


def test_pages_hold_no_path_of_this_checkout(pages: dict[str, str]) -> None:
    for name, text in pages.items():
        assert str(manpages.ROOT) not in text.replace("\\-", "-"), name
    assert "(site-packages/policy_sim/data/sample-maillog)" in pages["policy-sim.1"]


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
@pytest.mark.parametrize("name", manpages.PAGES)
def test_page_formats_without_warnings(name: str) -> None:
    formatted = subprocess.run(
        ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(MAN / name)],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    assert formatted.returncode == 0 and not formatted.stderr, formatted.stderr
