"""The parsed config file as an ordered tree of options and blocks, with locations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """Where a piece of configuration was written."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file} line {self.line}"


@dataclass(frozen=True)
class Setting:
    """One ``key = value`` line (here-docs and continuations already joined)."""

    key: str
    value: str
    location: Location


@dataclass(frozen=True)
class Block:
    """A ``<kind name>`` … ``</kind>`` section; the file itself is the root block (kind "")."""

    kind: str
    name: str | None
    location: Location
    entries: tuple[Setting | Block, ...] = field(default=())

    def settings(self) -> Iterator[Setting]:
        """The key/value lines directly in this block, in file order."""
        return (entry for entry in self.entries if isinstance(entry, Setting))

    def blocks(self, kind: str | None = None) -> Iterator[Block]:
        """The sub-blocks directly in this block (of one kind if given), in file order."""
        return (
            entry
            for entry in self.entries
            if isinstance(entry, Block) and (kind is None or entry.kind == kind)
        )

    def get(self, key: str) -> str | None:
        """The value of the last ``key`` line in this block, or None."""
        found = None
        for setting in self.settings():
            if setting.key == key:
                found = setting.value
        return found

    def setting(self, key: str) -> Setting | None:
        """The last ``key`` line in this block with its location, or None."""
        found = None
        for setting in self.settings():
            if setting.key == key:
                found = setting
        return found
