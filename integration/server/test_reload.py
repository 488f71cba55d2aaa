"""HUP reloads the configuration; a broken new configuration keeps the running one."""

from __future__ import annotations

import os
import signal

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.plugin import DaemonFactory
from integration.server.daemon_helpers import echo_config, request, wait_for


def rewrite(daemon: MtpolicydDaemon, old: str, new: str) -> None:
    """Change the daemon's config file in place and send it HUP."""
    text = daemon.config_path.read_text()
    assert old in text
    daemon.config_path.write_text(text.replace(old, new))
    os.kill(daemon.pid or 0, signal.SIGHUP)


def answer(daemon: MtpolicydDaemon) -> list[str]:
    return daemon.request(request("192.0.2.1"))


def test_hup_with_a_changed_config_changes_the_answer(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    assert answer(daemon) == ["action=reject first 192.0.2.1"]
    with daemon.connect() as kept:
        kept.request(request("192.0.2.1"))
        rewrite(daemon, 'action = "reject first %IP%"', 'action = "reject reloaded %IP%"')
        wait_for(lambda: answer(daemon) == ["action=reject reloaded 192.0.2.1"], 20, "the new answer")
        daemon.wait_for_log("configuration reloaded")


def test_hup_with_a_broken_config_keeps_the_old_answer(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first"))
    rewrite(daemon, 'module = "ScoreAction"', 'module = "NoSuchPlugin"')
    log = daemon.wait_for_log("reloading configuration failed, keeping the running one")
    assert "NoSuchPlugin" in log
    assert answer(daemon) == ["action=reject first 192.0.2.1"]
    assert daemon.running()
