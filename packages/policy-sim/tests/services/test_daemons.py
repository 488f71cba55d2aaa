"""Daemons from config templates: free ports and the globals they need; our daemon is never the Perl one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from policy_sim.services import MissingBinary
from policy_sim.services.daemons import MtpolicydDaemon, python_mtpolicyd_argv

TEMPLATE = (
    "<VirtualHost {port}>\n  name = a\n</VirtualHost>\n<VirtualHost {port2}>\n  name = b\n</VirtualHost>\n"
)


def test_ports_and_run_globals_are_filled_in(tmp_path: Path) -> None:
    daemon = MtpolicydDaemon(["true"], "d", tmp_path, "# {word}\n" + TEMPLATE, {"word": "hello"}, None)
    config = daemon.config_path.read_text()
    assert len(set(daemon.ports)) == 2 and daemon.port == daemon.ports[0]
    assert f'port="127.0.0.1:{daemon.ports[0]},127.0.0.1:{daemon.ports[1]}"' in config
    assert f"<VirtualHost {daemon.ports[1]}>" in config and "# hello" in config
    assert f'pid_file="{tmp_path}/d.pid"' in config


def test_settings_of_the_config_are_not_overridden(tmp_path: Path) -> None:
    daemon = MtpolicydDaemon(["true"], "d", tmp_path, 'pid_file="/x.pid"\nport="1"\n' + TEMPLATE, {}, None)
    config = daemon.config_path.read_text()
    assert config.count("pid_file") == 1 and config.count("port=") == 1


def test_our_daemon_missing_next_to_python_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(MissingBinary, match="pip install mtpolicyd-server"):
        python_mtpolicyd_argv()
