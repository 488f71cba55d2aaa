"""Becoming a daemon: detach from the terminal, write the PID file, drop privileges."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd


def daemonize() -> None:
    """Fork twice and start a new session, so no terminal is ever ours; stdio goes to /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def write_pid_file(path: str) -> None:
    """Write our PID to ``path`` (replacing a stale file) at once: a reader never sees it empty."""
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="ascii") as pid_file:
        pid_file.write(f"{os.getpid()}\n")
    os.replace(partial, path)


def remove_pid_file(path: str) -> None:
    """Remove ``path`` if it still holds our PID (after dropping privileges this may be refused)."""
    with contextlib.suppress(OSError):
        with open(path, encoding="ascii") as pid_file:
            if pid_file.read().strip() != str(os.getpid()):
                return
        os.unlink(path)


def drop_privileges(user: str | None, group: str | None) -> None:
    """Become ``user``/``group`` (names or numbers); KeyError names an unknown one."""
    if group is not None:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        if gid != os.getegid():
            os.setgroups([gid])
            os.setgid(gid)
    if user is not None:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        if entry.pw_uid != os.geteuid():
            if group is None:
                os.initgroups(entry.pw_name, entry.pw_gid)
                os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
