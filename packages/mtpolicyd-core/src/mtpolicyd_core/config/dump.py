"""Write a :class:`Block` tree back as Config::General text that parses to the same tree."""

from __future__ import annotations

import re

from mtpolicyd_core.config.parser import WHITESPACE
from mtpolicyd_core.config.tree import Block, Setting

_INDENT = "  "
_KEY = re.compile(r"[^\s=#<\"][^\s=#]*", re.ASCII)
_KIND = re.compile(r"[A-Za-z0-9_.:-]+", re.ASCII)
_ESCAPED = re.compile(r'([$\\"#])')


def dump_config(root: Block) -> str:
    """Config::General text for ``root``'s entries; ValueError for names it cannot write."""
    lines: list[str] = []
    _write_entries(root, 0, lines)
    return "".join(line + "\n" for line in lines)


def quote_value(value: str) -> str:
    """A value as a double-quoted Config::General string (escapes for ``"``, ``#``, ``$``, ``\\``)."""
    return '"' + _ESCAPED.sub(r"\\\1", value) + '"'


def _write_entries(block: Block, depth: int, lines: list[str]) -> None:
    for entry in block.entries:
        if isinstance(entry, Setting):
            _write_setting(entry, depth, lines)
        else:
            _write_block(entry, depth, lines)


def _write_setting(setting: Setting, depth: int, lines: list[str]) -> None:
    key = setting.key
    if not _KEY.fullmatch(key) or "/*" in key or "*/" in key:
        raise ValueError(f"cannot write option name {key!r} in Config::General syntax")
    quoted = quote_value(setting.value)
    if "\n" not in quoted and "/*" not in quoted and "*/" not in quoted:
        lines.append(f"{_INDENT * depth}{key} = {quoted}")
        return
    # Comments are not recognized inside a here-doc, and it may span lines.
    terminator = "EOT"
    while terminator in quoted:
        terminator += "X"
    lines.append(f"{_INDENT * depth}{key} <<{terminator}")
    lines.extend(quoted.split("\n"))
    lines.append(terminator)


def _write_block(block: Block, depth: int, lines: list[str]) -> None:
    if not _KIND.fullmatch(block.kind):
        raise ValueError(f"cannot write block name <{block.kind}> in Config::General syntax")
    indent = _INDENT * depth
    if block.name is None:
        lines.append(f"{indent}<{block.kind}>")
    else:
        lines.append(f"{indent}<{block.kind} {_block_name(block.name)}>")
    _write_entries(block, depth + 1, lines)
    lines.append(f"{indent}</{block.kind}>")


def _block_name(name: str) -> str:
    """The name as written in a start tag: bare when that reads back the same, else quoted."""
    if any(part in name for part in ("#", "/*", "*/", "<<", "\n")):
        raise ValueError(f"cannot write block name {name!r} in Config::General syntax")
    bare_ok = name == name.strip(WHITESPACE) and not name.startswith('"') and not name.endswith("/")
    if bare_ok:
        return name
    if '"' in name or not name:
        raise ValueError(f"cannot write block name {name!r} in Config::General syntax")
    return f'"{name}"'
