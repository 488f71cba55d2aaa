import logging
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins import regex_list as regex_list_module
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

from plugins.chain_answer import answer

ACCEPT = [PluginResult("accept", abort=True)]


@pytest.fixture
def regex_list(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(*nested: Block, **settings: str) -> Plugin:
        settings.setdefault("key", "r:client_name")
        return build_plugin(block("regex-whitelist", *nested, module="RegexList", **settings))

    return build


async def test_regex_list_answers_action_when_a_pattern_matches(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(regex=r"\.bofh-noc\.de$", action="accept")
    assert await plugin.run(Request({}, {}, use_caching=False)) == []
    assert await plugin.run(Request({"client_name": "zumsel.blablub.com"}, {})) == []
    assert await plugin.run(Request({"client_name": "zumsel.bofh-noc.de"}, {})) == ACCEPT


async def test_regex_list_reads_patterns_from_file(regex_list: Callable[..., Plugin], tmp_path: Path) -> None:
    patterns = tmp_path / "regex.txt"
    patterns.write_text("# comment\n\n   \n^mail-[a-z]+\\.google\\.com$\n\\.bofh-noc\\.de$\n")
    plugin = regex_list(file=str(patterns), action="accept")
    assert await plugin.run(Request({"client_name": "mail-ab.google.com"}, {})) == ACCEPT
    assert await plugin.run(Request({"client_name": "x.bofh-noc.de"}, {})) == ACCEPT
    assert await plugin.run(Request({"client_name": "# comment"}, {})) == []


async def test_regex_list_skips_invalid_patterns_and_logs_them_once(
    regex_list: Callable[..., Plugin], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    patterns = tmp_path / "regex.txt"
    patterns.write_text("(broken\nok$\n")
    with caplog.at_level(logging.ERROR):
        plugin = regex_list(file=str(patterns), action="accept")
        for _ in range(3):
            assert await plugin.run(Request({"client_name": "ok"}, {})) == ACCEPT
    assert caplog.text.count("invalid regex (broken") == 1


async def test_regex_list_reads_its_file_and_compiles_once_when_built(
    regex_list: Callable[..., Plugin], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patterns = tmp_path / "regex.txt"
    patterns.write_text("^a$\n")
    plugin = regex_list(file=str(patterns), regex="^b$", action="accept")
    patterns.unlink()

    def no_compiling(pattern: str) -> NoReturn:
        raise AssertionError(f"{pattern} compiled while answering")

    monkeypatch.setattr(regex_list_module, "compile_perl_regex", no_compiling)
    for value in ("a", "b"):
        assert await plugin.run(Request({"client_name": value}, {})) == ACCEPT


async def test_regex_list_invert_acts_when_nothing_matches(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(regex="^good$", invert="1", action="reject")
    assert await plugin.run(Request({"client_name": "good"}, {})) == []
    assert await plugin.run(Request({"client_name": "bad"}, {})) == [PluginResult("reject", abort=True)]


async def test_regex_list_disabled_by_user_config(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(regex=".", action="accept", uc_enabled="regex_enabled")
    assert await answer(plugin, Request({"client_name": "x"}, {"regex_enabled": "off"})) == []
    assert await answer(plugin, Request({"client_name": "x"}, {"regex_enabled": "on"})) == ACCEPT


async def test_regex_list_scores_once_per_mail(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(regex=".", score="-5")
    session: dict[str, object] = {}
    for _ in range(2):
        assert await plugin.run(Request({"client_name": "x"}, session)) == []
    assert session["score"] == -5
    assert session["score_detail"] == "regex-whitelist=-5"


async def test_regex_list_caches_the_match_per_mail(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(regex="^a$", action="accept")
    session: dict[str, object] = {}
    assert await plugin.run(Request({"client_name": "a"}, session)) == ACCEPT
    assert session["regex-whitelist-result"] == ["^a$"]
    assert await plugin.run(Request({"client_name": "b"}, session)) == ACCEPT


async def test_regex_list_runs_nested_chain(
    regex_list: Callable[..., Plugin], block: Callable[..., Block]
) -> None:
    plugin = regex_list(block("inner", module="Action", action="reject inner"), regex="x")
    assert await plugin.run(Request({"client_name": "x"}, {})) == [PluginResult("reject inner", abort=True)]


async def test_regex_list_unknown_scope_fails_even_when_disabled(regex_list: Callable[..., Plugin]) -> None:
    plugin = regex_list(key="q:name", regex="x", enabled="off")
    with pytest.raises(ValueError, match="unknown scope"):
        await plugin.run(Request({}, {}))
