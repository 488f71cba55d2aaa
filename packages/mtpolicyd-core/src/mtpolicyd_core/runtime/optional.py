"""Back-end libraries that come with extras of mtpolicyd-core (``pip install 'mtpolicyd-core[redis]'``).

A configuration that names a plugin or connection whose library is missing fails at load with a
ConfigError naming the extra to install, not with an ImportError traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.errors import ConfigError

DISTRIBUTION = "mtpolicyd-core"
#: top-level module → the extra of mtpolicyd-core that installs it (kept in step with pyproject.toml)
EXTRAS: dict[str, str] = {
    "asyncmy": "mysql",
    "asyncpg": "postgresql",
    "berkeleydb": "bdb",
    "ldap3": "ldap",
    "pygeoip": "geoip",
    "redis": "redis",
}


def install_command(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class MissingExtra(ConfigError):
    """A configured plugin or connection needs a library from an extra that is not installed."""

    def __init__(self, module: str, needed_by: str, where: Location | None = None) -> None:
        self.module = module
        self.extra = EXTRAS[module]
        super().__init__(
            f"{needed_by} needs the Python package {module}, which is not installed;"
            f" install it with: {install_command(self.extra)}",
            where.file if where else None,
            where.line if where else None,
        )


def _optional_module(error: ModuleNotFoundError) -> str | None:
    top = (error.name or "").partition(".")[0]
    return top if top in EXTRAS else None


@contextmanager
def extras_needed_by(needed_by: str, where: Location | None = None) -> Iterator[None]:
    """Turn an import of a missing optional library inside the block into MissingExtra."""
    try:
        yield
    except ModuleNotFoundError as error:
        module = _optional_module(error)
        if module is None:
            raise
        raise MissingExtra(module, needed_by, where) from None


def import_extra(module: str, needed_by: str, where: Location | None = None) -> ModuleType:
    """``module`` (one of EXTRAS or a submodule) imported; MissingExtra when its extra is not installed."""
    with extras_needed_by(needed_by, where):
        return importlib.import_module(module)
