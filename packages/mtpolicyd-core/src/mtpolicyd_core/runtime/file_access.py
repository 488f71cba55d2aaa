"""Whether this process can read a file a plugin names, said the way an admin can act on it."""

from __future__ import annotations

import os
import pwd


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read as the current user (``cannot be read by user mtpolicyd: …``), or None.

    Opens the file for real, so permissions of every directory on the way count too.
    """
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except IsADirectoryError:
        return "is a directory, not a file"
    except OSError as error:
        return f"cannot be read by user {_user()}: {error.strerror or error}"
    return None
