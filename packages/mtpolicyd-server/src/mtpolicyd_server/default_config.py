"""The packaged demo configuration; ``python -m mtpolicyd_server.default_config`` prints its path."""

from __future__ import annotations

from importlib.resources import as_file, files


def default_config_path() -> str:
    """The file system path of the packaged ``default.conf``."""
    with as_file(files("mtpolicyd_server") / "default.conf") as path:
        return str(path)


if __name__ == "__main__":
    print(default_config_path())
