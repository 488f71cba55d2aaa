from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from mtpolicyd_core.chain import PluginChain, build_chain
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError, PluginError
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import ChainResult, PluginResult

CONTEXT = PluginContext("test", "2", ConnectionPool(), build_chain)


class Canned(Plugin):
    """Answers fixed results, or raises, and records that it ran."""

    def __init__(
        self, name: str, *results: PluginResult, fail: bool = False, on_error: str | None = None
    ) -> None:
        super().__init__(name, CONTEXT, {"on_error": on_error, "log_level": "4"}, {})
        self.results = list(results)
        self.fail = fail
        self.calls = 0

    async def run(self, request: Request) -> list[PluginResult]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("boom")
        return self.results


async def run(*plugins: Plugin) -> ChainResult:
    return await PluginChain("test", plugins).run(Request({}, {}))


async def test_chain_without_answers_replies_dunno() -> None:
    result = await run(Canned("a"), Canned("b"))
    assert result.actions == []
    assert result.last_match is None
    assert result.as_policyd_response() == "action=dunno\n\n"


async def test_chain_stops_at_first_aborting_result() -> None:
    last = Canned("c", PluginResult("accept", abort=True))
    result = await run(Canned("a"), Canned("b", PluginResult("reject", abort=True)), last)
    assert result.actions == ["reject"]
    assert result.last_match == "b"
    assert last.calls == 0


async def test_chain_keeps_non_aborting_actions_and_goes_on() -> None:
    result = await run(
        Canned("a", PluginResult("PREPEND X-A: 1")),
        Canned("b", PluginResult(None)),
        Canned("c", PluginResult("PREPEND X-C: 1"), PluginResult("reject", abort=True), PluginResult("late")),
        Canned("d", PluginResult("never", abort=True)),
    )
    assert result.actions == ["PREPEND X-A: 1", "PREPEND X-C: 1", "reject", "late"]
    assert (
        result.as_policyd_response()
        == "action=PREPEND X-A: 1\naction=PREPEND X-C: 1\naction=reject\naction=late\n\n"
    )
    assert result.as_log() == "PREPEND X-A: 1,PREPEND X-C: 1,reject,late"
    assert result.last_match == "c"


async def test_chain_last_match_counts_results_without_action() -> None:
    result = await run(Canned("a", PluginResult("PREPEND X: 1")), Canned("b", PluginResult(None)))
    assert result.last_match == "b"
    assert result.as_policyd_response() == "action=PREPEND X: 1\n\n"


async def test_chain_on_error_continue_logs_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        result = await run(
            Canned("a", fail=True, on_error="continue"), Canned("b", PluginResult("reject", abort=True))
        )
    assert result.actions == ["reject"]
    assert "plugin a failed: boom" in caplog.text


@pytest.mark.parametrize("on_error", [None, "stop", "Continue"])
async def test_chain_failure_without_on_error_continue_raises_plugin_error(on_error: str | None) -> None:
    with pytest.raises(PluginError, match="plugin a failed: boom") as caught:
        await run(Canned("a", fail=True, on_error=on_error), Canned("b"))
    assert caught.value.plugin == "a"


async def test_nested_chain_results_pass_up_and_stop_the_outer_chain(
    block: Callable[..., Block], make_chain: Callable[..., PluginChain]
) -> None:
    chain = make_chain(
        block(
            "cond",
            block("inner-1", module="SetField", key="x", value="1"),
            block("inner-2", module="Action", action="reject nested"),
            block("inner-3", module="Action", action="never"),
            module="Condition",
            key="k",
            match="y",
        ),
        block("after", module="Action", action="accept"),
    )
    session: dict[str, object] = {}
    result = await chain.run(Request({"k": "y"}, session))
    assert result.actions == ["reject nested"]
    assert result.last_match == "cond"
    assert session == {"x": "1"}
    assert (await chain.run(Request({"k": "n"}, {}))).actions == ["accept"]


async def test_nested_failure_names_both_plugins(
    block: Callable[..., Block], make_chain: Callable[..., PluginChain]
) -> None:
    chain = make_chain(
        block(
            "outer",
            block("inner", module="SetField", key="x", value="1"),
            module="Condition",
            key="k",
            match="y",
        )
    )
    with pytest.raises(PluginError, match=r"plugin outer failed: .*no session"):
        await chain.run(Request({"k": "y"}, None))


def test_build_chain_needs_module_and_known_plugin(
    block: Callable[..., Block], make_chain: Callable[..., PluginChain]
) -> None:
    with pytest.raises(ConfigError, match="no module defined for plugin p"):
        make_chain(block("p", action="x"))
    with pytest.raises(ConfigError, match="could not load module NoSuch for plugin p"):
        make_chain(block("p", module="NoSuch"))


async def test_chain_cron_runs_nested_chains(
    block: Callable[..., Block], make_chain: Callable[..., PluginChain], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(block("outer", block("inner", module="Action", action="x"), module="Stress"))
    ran: list[list[str]] = []
    nested = chain.plugins[0].chain
    assert nested is not None
    inner = nested.plugins[0]
    monkeypatch.setattr(inner, "cron", lambda tasks: ran.append(list(tasks)))
    await chain.cron(["hourly"])
    assert ran == [["hourly"]]


async def test_chain_from_config_text_runs_passive_plugins_then_the_answer(
    chain_from_text: Callable[..., PluginChain],
) -> None:
    chain = chain_from_text(
        """
        <Plugin mark>
          module = SetField
          key = seen
          value = yes
        </Plugin>
        <Plugin when-seen>
          module = Condition
          key = session:seen
          match = yes
          score = 5.0
        </Plugin>
        <Plugin verdict>
          module = ScoreAction
          threshold = 5
          action = "reject score=%SCORE%%SCORE_DETAIL%"
        </Plugin>
        """
    )
    session: dict[str, object] = {}
    result = await chain.run(Request({}, session))
    assert result.as_policyd_response() == "action=reject score=5, when-seen=5.0\n\n"
    assert result.last_match == "verdict"


async def test_startup_names_the_line_of_a_file_option_the_worker_cannot_read(
    tmp_path: Path, chain_from_text: Callable[..., PluginChain]
) -> None:
    missing = tmp_path / "GeoIP.dat"
    chain = chain_from_text(f'<Plugin geo>\n  module = "GeoIPLookup"\n  database = "{missing}"\n</Plugin>\n')
    with pytest.raises(ConfigError) as error:
        await chain.startup()
    assert (error.value.file, error.value.line) == ("test.conf", 3)
    assert error.value.message.startswith(f"plugin geo: database {missing} cannot be read by user ")
    assert "No such file or directory" in error.value.message


async def test_startup_checks_a_file_option_left_at_its_default(
    chain_from_text: Callable[..., PluginChain],
) -> None:
    chain = chain_from_text('<Plugin awl>\n  module = "SaAwlLookup"\n</Plugin>\n')
    with pytest.raises(ConfigError, match=r"db_file /var/lib/amamvis/\.spamassassin/auto-whitelist cannot"):
        await chain.startup()


async def test_startup_refuses_a_directory_as_a_regex_file(
    tmp_path: Path, chain_from_text: Callable[..., PluginChain]
) -> None:
    text = f'<Plugin re>\n  module = "RegexList"\n  key = "sender"\n  file = "{tmp_path}"\n</Plugin>\n'
    with pytest.raises(ConfigError, match="is a directory"):
        await chain_from_text(text).startup()


async def test_startup_accepts_readable_files(
    tmp_path: Path, chain_from_text: Callable[..., PluginChain]
) -> None:
    patterns = tmp_path / "patterns"
    patterns.write_text("^spam\n")
    text = f'<Plugin re>\n  module = "RegexList"\n  key = "sender"\n  file = "{patterns}"\n</Plugin>\n'
    await chain_from_text(text).startup()
