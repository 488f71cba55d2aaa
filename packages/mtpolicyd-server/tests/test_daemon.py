"""PID file handling and privilege dropping without a change."""

from __future__ import annotations

import os
from pathlib import Path

from mtpolicyd_server.daemon import drop_privileges, remove_pid_file, write_pid_file


def test_pid_file_holds_our_pid_and_is_removed(tmp_path: Path) -> None:
    pid_file = tmp_path / "mtpolicyd.pid"
    write_pid_file(str(pid_file))
    assert pid_file.read_text() == f"{os.getpid()}\n"
    remove_pid_file(str(pid_file))
    assert not pid_file.exists()


def test_pid_file_of_another_process_is_left_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / "mtpolicyd.pid"
    pid_file.write_text("1\n")
    remove_pid_file(str(pid_file))
    assert pid_file.exists()


def test_dropping_to_the_current_user_and_group_changes_nothing() -> None:
    before = (os.geteuid(), os.getegid(), os.getgroups())
    drop_privileges(str(os.geteuid()), str(os.getegid()))
    assert (os.geteuid(), os.getegid(), os.getgroups()) == before
