"""Which dialect a config file is read in (1.x globals or 2.x blocks), why, and what is ignored.

The choice is told with its evidence (``<SessionCache> at line 14``, ``memcached_servers at
line 19``) so an admin sees at start-up and in ``-d`` why a file is read as it is; whatever
belongs to the other dialect is ignored with a warning saying what that dialect would do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from mtpolicyd_core.config.model import Dialect
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.errors import ConfigError

#: Globals that exist only in 1.x: their presence makes a file 1.x.
ONE_X_GLOBALS = (
    "db_dsn",
    "db_user",
    "db_password",
    "memcached_servers",
    "memcached_namespace",
    "memcached_expire",
    "session_lock_wait",
    "session_lock_max_retry",
    "session_lock_timeout",
)
#: Blocks that exist only in 2.x: their presence makes a file 2.x.
TWO_X_BLOCKS = ("Connection", "SessionCache")
DIALECTS: tuple[Dialect, ...] = ("1", "2")

#: what 1.17 does with each 1.x-only global (the value is put in for ``{}``)
_ONE_X_MEANING = {
    "memcached_servers": "keep sessions in memcached at {}",
    "memcached_namespace": "prefix session keys with {!r}",
    "memcached_expire": "keep sessions for {} s",
    "session_lock_wait": "wait {} µs (times the attempt) between session lock attempts",
    "session_lock_max_retry": "try the session lock {} times",
    "session_lock_timeout": "let a session lock expire after {} s",
    "db_dsn": "open the SQL connection db for the SQL plugins",
    "db_user": "log in to the SQL connection db as this user",
    "db_password": "log in to the SQL connection db with this password",
}


@dataclass(frozen=True)
class DialectChoice:
    """The dialect, the evidence it was chosen on, and the warnings about the other dialect."""

    dialect: Dialect
    reason: str
    #: the choice was told (``--dialect`` or ``config_dialect``), not read off the file's contents
    forced: bool
    warnings: tuple[tuple[Location, str], ...] = ()


def _at(where: Location, path: str) -> str:
    """``line N``, or ``FILE line N`` for a line of an included file."""
    return f"line {where.line}" if where.file == path else str(where)


def _block_label(block: Block) -> str:
    return f"<{block.kind}{'' if block.name is None else ' ' + block.name}>"


def choose_dialect(root: Block, path: str, forced: Dialect | None = None) -> DialectChoice:
    """``forced`` (``--dialect``) wins, then ``config_dialect``, then the blocks, then 1.x globals.

    A file with neither 2.x blocks nor 1.x globals is 2.x, as Debian's Perl 2.x reads it.
    """
    one_x = [setting for setting in root.settings() if setting.key in ONE_X_GLOBALS]
    two_x = [block for block in root.blocks() if block.kind in TWO_X_BLOCKS]
    told = root.setting("config_dialect")
    if told is not None and told.value.strip() not in DIALECTS:
        raise ConfigError(
            f"config_dialect must be 1 or 2, not {told.value!r}", told.location.file, told.location.line
        )
    notes: list[tuple[Location, str]] = []
    if forced is not None:
        dialect, reason = forced, f"--dialect {forced} on the command line"
        if told is not None and told.value.strip() != forced:
            notes.append(
                (told.location, f"config_dialect = {told.value.strip()} overridden by --dialect {forced}")
            )
    elif told is not None:
        dialect = cast(Dialect, told.value.strip())
        reason = f"config_dialect = {dialect} at {_at(told.location, path)}"
    elif two_x:
        # Blocks win: Perl 2.x loads such a file and ignores the old 1.x globals.
        dialect = "2"
        reason = ", ".join(f"{_block_label(block)} at {_at(block.location, path)}" for block in two_x)
    elif one_x:
        dialect = "1"
        reason = ", ".join(f"{setting.key} at {_at(setting.location, path)}" for setting in one_x)
    else:
        dialect = "2"
        reason = "no <Connection>/<SessionCache> block and no 1.x-only global: 2.x, as Perl 2.x reads it"
    if dialect == "2":
        notes += [(setting.location, _ignored_global(setting, two_x)) for setting in one_x]
    else:
        notes += [(block.location, _ignored_block(block)) for block in two_x]
    return DialectChoice(dialect, reason, forced is not None or told is not None, tuple(notes))


def _ignored_global(setting: Setting, two_x: Sequence[Block]) -> str:
    meaning = _ONE_X_MEANING[setting.key].format(setting.value)
    text = (
        f"1.x global {setting.key} ignored in a 2.x config, as Perl 2.x ignores it;"
        f" read as 1.x it would {meaning}"
    )
    if setting.key == "memcached_servers" and not any(block.kind == "SessionCache" for block in two_x):
        text += (
            " — this file has no <SessionCache>, so no session is kept (config_dialect = 1 reads it as 1.x)"
        )
    return text


def _ignored_block(block: Block) -> str:
    module = block.get("module") or "?"
    if block.kind == "SessionCache":
        meaning = f"keep sessions with module {module}; 1.x keeps them in memcached (memcached_servers)"
    else:
        meaning = f"define connection {block.name} (module {module}) for the plugins"
    return (
        f"2.x block {_block_label(block)} ignored in a 1.x config, as Perl 1.17 ignores it;"
        f" read as 2.x it would {meaning}"
    )
