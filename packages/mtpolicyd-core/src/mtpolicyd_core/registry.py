"""Plugin classes found through the ``mtpolicyd.plugins`` entry point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.runtime.optional import extras_needed_by

if TYPE_CHECKING:
    from mtpolicyd_core.plugin import Plugin

ENTRY_POINT_GROUP = "mtpolicyd.plugins"


@cache
def available_plugins() -> dict[str, str]:
    """Module name → ``package.module:Class`` of every installed plugin."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}


def load_plugin_class(module: str, plugin_name: str, where: Location) -> type[Plugin]:
    """The class for ``module = NAME``; ConfigError when no installed plugin has that name."""
    for point in entry_points(group=ENTRY_POINT_GROUP, name=module):
        with extras_needed_by(f"plugin {plugin_name} (module {module})", where):
            loaded: type[Plugin] = point.load()
        return loaded
    known = ", ".join(sorted(available_plugins()))
    raise ConfigError(
        f"could not load module {module} for plugin {plugin_name}: no such plugin (known: {known})",
        where.file,
        where.line,
    )
