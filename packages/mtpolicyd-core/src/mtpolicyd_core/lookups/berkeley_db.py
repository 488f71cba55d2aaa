"""Read-only Berkeley DB hash files, as Postfix ``postmap`` and SpamAssassin write them."""

from __future__ import annotations

import threading
from typing import Any

from berkeleydb import db


class BerkeleyHash:
    """A Berkeley DB hash file opened read-only on first use and kept open, like a Perl ``tie``.

    Safe to call from the worker's pool threads: one look-up at a time per file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: Any = None
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        with self._lock:
            if self._db is None:
                self._db = self._open()
            value: bytes | None = self._db.get(key)
        return value

    def _open(self) -> Any:
        handle = db.DB()
        try:
            handle.open(self.path, None, db.DB_HASH, db.DB_RDONLY)
        except db.DBError as error:
            raise OSError(f"Cannot open {self.path}: {error}") from None
        return handle
