"""Local service processes: a missing binary names its Debian package, a dying one shows its log."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from policy_sim.services import MissingBinary, ServiceStartError
from policy_sim.services.processes import ServiceProcess, require_binary


def test_missing_binary_names_the_debian_package() -> None:
    with pytest.raises(MissingBinary) as caught:
        require_binary("no-such-daemon-here", "no-such-package")
    assert caught.value.debian_package == "no-such-package"
    assert str(caught.value) == "no-such-daemon-here not found: install the Debian package no-such-package"


def test_present_binary_is_found() -> None:
    assert Path(require_binary("sh", "dash")).name == "sh"


def test_a_process_that_dies_before_it_is_ready_raises_with_its_log(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('bad config line 3'); raise SystemExit(3)"]
    process = ServiceProcess(argv, tmp_path / "dies.log")
    with pytest.raises(ServiceStartError) as caught:
        process.start(lambda: False, "dying service")
    assert caught.value.reason == "exited with status 3"
    assert "bad config line 3" in str(caught.value) and str(tmp_path / "dies.log") in str(caught.value)
    assert not process.running()


def test_a_ready_process_runs_until_stopped(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    argv = [
        sys.executable,
        "-c",
        f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(600)",
    ]
    process = ServiceProcess(argv, tmp_path / "sleeper.log")
    process.start(marker.exists, "sleeper")
    assert process.running() and process.pid is not None
    process.stop()
    assert not process.running() and process.pid is None
