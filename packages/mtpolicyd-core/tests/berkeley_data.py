"""Writes Berkeley DB hash files (as `postmap hash:` or SpamAssassin would) for tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from berkeleydb import db


def write_hash_db(path: Path, entries: Mapping[bytes, bytes]) -> Path:
    """A new hash file holding exactly ``entries``."""
    handle = db.DB()
    handle.open(str(path), None, db.DB_HASH, db.DB_CREATE)
    for key, value in entries.items():
        handle.put(key, value)
    handle.close()
    return path


def postmap(path: Path, entries: Mapping[str, str]) -> Path:
    """A Postfix hash map: keys and values end in a NUL byte, as postmap writes them on Linux."""
    return write_hash_db(path, {f"{k}\0".encode(): f"{v}\0".encode() for k, v in entries.items()})
