"""--spawn matches the trace's services to the vhosts of the spawned daemon's config."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_sim.cli import main
from policy_sim.endpoint import Endpoint
from policy_sim.services.daemons import MtpolicydDaemon
from policy_sim.spawn import SpawnedDaemons, SpawnError
from policy_sim.trace import parse_trace

CONFIG = """\
<VirtualHost 4001>
  name = "reputation"
</VirtualHost>
<VirtualHost 4002>
  name = accounting
</VirtualHost>
"""


def spawned_with(config: str, tmp_path: Path) -> SpawnedDaemons:
    spawned = SpawnedDaemons("unused.conf")
    daemon = MtpolicydDaemon(["true"], "mtpolicyd", tmp_path, config, {}, None)
    spawned.daemons["mtpolicyd"] = daemon
    return spawned


def test_trace_services_are_matched_to_vhosts_by_name(tmp_path: Path) -> None:
    trace = parse_trace(
        "mails:\n  - client_address: x\n    recipients: [a]\n    stages:\n"
        "      - {state: RCPT, service: reputation}\n      - {state: DATA, service: accounting}\n"
        "services: {reputation: '', accounting: ''}\n",
        "t.yaml",
    )
    target = spawned_with(CONFIG, tmp_path).target_for(trace, "mtpolicyd", "spawned")
    assert target.services == {
        "reputation": Endpoint("127.0.0.1", 4001),
        "accounting": Endpoint("127.0.0.1", 4002),
    }


def test_unmatched_service_is_an_error_listing_the_vhosts(tmp_path: Path) -> None:
    trace = parse_trace(
        "services: {other: ''}\nmails:\n  - client_address: x\n    recipients: [a]\n"
        "    stages: [{state: RCPT, service: other}]\n",
        "t.yaml",
    )
    with pytest.raises(SpawnError, match="reputation=4001"):
        spawned_with(CONFIG, tmp_path).target_for(trace, "mtpolicyd", "spawned")


def test_a_missing_spawn_command_stops_the_run_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, trace = tmp_path / "c.conf", tmp_path / "t.yaml"
    config.write_text(CONFIG)
    trace.write_text(
        "services: {reputation: ''}\nstages: [{state: RCPT}]\nmails: [{client_address: x, recipients: [a]}]\n"
    )
    argv = ["replay", str(trace), "--spawn", str(config), "--spawn-command", "/nonexistent/daemon -x", "-q"]
    assert main(argv) == 2
    assert (
        "policy-sim replay: /nonexistent/daemon not found: install it, or give another --spawn-command"
        in (capsys.readouterr().err)
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["replay", "TRACE", "--spawn", "CONFIG", "--target", "127.0.0.1:1"],
            "--spawn starts its own daemons: leave out --target and --service",
        ),
        (
            ["load", "TRACE", "--spawn", "CONFIG", "--service", "reputation=127.0.0.1:1"],
            "--spawn starts its own daemons: leave out --target and --service",
        ),
        (
            ["load", "TRACE", "--spawn", "CONFIG", "--baseline", "127.0.0.1:1", "--baseline-command", "x"],
            "give the baseline either with --baseline or with --baseline-command, not both",
        ),
        (
            ["load", "TRACE", "--baseline-command", "/usr/bin/mtpolicyd"],
            "--baseline-command spawns the --spawn config with another daemon: add --spawn CONFIG",
        ),
    ],
)
def test_spawn_options_that_would_be_ignored_are_usage_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, trace = tmp_path / "c.conf", tmp_path / "t.yaml"
    config.write_text(CONFIG)
    trace.write_text(
        "services: {reputation: ''}\nstages: [{state: RCPT}]\nmails: [{client_address: x, recipients: [a]}]\n"
    )
    paths = {"TRACE": str(trace), "CONFIG": str(config)}
    assert main([paths.get(arg, arg) for arg in argv] + ["-q"]) == 2
    assert message in capsys.readouterr().err
