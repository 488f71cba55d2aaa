"""Warnings at start-up about how the daemon is run: as root without ``user``, secrets others can read."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator

from mtpolicyd_core.config.model import Config
from mtpolicyd_core.config.tree import Block, Setting

#: option names that hold a secret (``password``, ``db_password``, ``bind_pw``, ``secret`` …)
_SECRET_KEY = re.compile(r"(pass(word|wd)?|_pw|secret)$", re.IGNORECASE)
#: a secret inside a value: DBI ``password=…``, or a URL's ``user:password@``
_SECRET_VALUE = re.compile(r"(^|;)\s*password\s*=|://[^/@\s:]+:[^/@\s]+@", re.IGNORECASE)


def startup_warnings(config: Config, euid: int | None = None) -> list[str]:
    """What a mail admin should fix: running as root without ``user``, passwords readable by others."""
    warnings = []
    if (os.geteuid() if euid is None else euid) == 0 and not config.server.user:
        warnings.append(
            "running as root without user = …: the workers keep root's rights; set user and group"
        )
    warnings.extend(readable_secrets(config.root))
    return warnings


def readable_secrets(root: Block) -> list[str]:
    """One warning per config file that holds a password and that every user may read."""
    found: dict[str, Setting] = {}
    for setting in _all_settings(root):
        if setting.value and (_SECRET_KEY.search(setting.key) or _SECRET_VALUE.search(setting.value)):
            found.setdefault(setting.location.file, setting)
    warnings = []
    for path, setting in found.items():
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & stat.S_IROTH:
            warnings.append(
                f"{path} holds a password ({setting.key}, line {setting.location.line}) and is readable"
                f" by every user: chmod o-r {path}"
            )
    return warnings


def _all_settings(block: Block) -> Iterator[Setting]:
    yield from block.settings()
    for child in block.blocks():
        yield from _all_settings(child)
