"""A config naming a plugin or connection whose extra is not installed fails at load with the install line."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.runtime.optional import EXTRAS, MissingExtra, extras_needed_by, import_extra

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
#: our modules that import optional libraries at their top: imported afresh in each test
OWN_MODULES_IMPORTING_EXTRAS = (
    "mtpolicyd_core.plugins.",
    "mtpolicyd_core.lookups.",
    "mtpolicyd_core.connections.redis",
    "mtpolicyd_core.session.redis",
)


def without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` (and anything imported from them) unimportable, as if their extra were missing."""
    for name in list(sys.modules):
        if name.startswith((*modules, *OWN_MODULES_IMPORTING_EXTRAS)):
            monkeypatch.delitem(sys.modules, name)
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def engine_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        PolicyEngine(load_config_text(text, "test.conf"))
    return error.value


def vhost(plugin: str, settings: str = "") -> str:
    return (
        f'<VirtualHost 12345>\n  name = "test"\n  <Plugin p>\n    module = "{plugin}"\n{settings}'
        "  </Plugin>\n</VirtualHost>\n"
    )


@pytest.mark.parametrize(
    ("plugin", "module", "extra"),
    [
        ("GeoIPLookup", "pygeoip", "geoip"),
        ("PostfixMap", "berkeleydb", "bdb"),
        ("SaAwlLookup", "berkeleydb", "bdb"),
    ],
)
def test_plugin_without_its_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, plugin: str, module: str, extra: str
) -> None:
    without(monkeypatch, module)
    error = engine_error(vhost(plugin))
    assert isinstance(error, MissingExtra)
    assert (error.file, error.line) == ("test.conf", 3)
    assert f"plugin p (module {plugin}) needs the Python package {module}" in str(error)
    assert f"pip install 'mtpolicyd-core[{extra}]'" in str(error)


@pytest.mark.parametrize(
    ("connection", "module", "extra"),
    [
        ('module = "Redis"', "redis", "redis"),
        ('module = "Ldap"', "ldap3", "ldap"),
        ('module = "Sql"\n  dsn = "dbi:mysql:mail"', "asyncmy", "mysql"),
        ('module = "Sql"\n  dsn = "dbi:Pg:dbname=mail"', "asyncpg", "postgresql"),
    ],
)
def test_connection_without_its_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, connection: str, module: str, extra: str
) -> None:
    without(monkeypatch, module)
    error = engine_error(f"<Connection backend>\n  {connection}\n</Connection>\n" + vhost("Action"))
    assert isinstance(error, MissingExtra)
    assert (error.file, error.line) == ("test.conf", 1)
    assert f"pip install 'mtpolicyd-core[{extra}]'" in str(error)


def test_sqlite_needs_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, *EXTRAS)
    sql = '<Connection db>\n  module = "Sql"\n  dsn = "dbi:SQLite::memory:"\n</Connection>\n'
    engine = PolicyEngine(load_config_text(sql + vhost("Action", '    action = "dunno"\n'), "test.conf"))
    assert engine.config.connections[0].name == "db"


def test_missing_module_that_is_no_extra_is_not_disguised() -> None:
    with pytest.raises(ModuleNotFoundError), extras_needed_by("plugin p"):
        import_extra("mtpolicyd_core_no_such_module", "plugin p")


def test_every_extra_named_in_errors_is_declared_with_its_package() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for module, extra in EXTRAS.items():
        assert any(requirement.startswith(module) for requirement in declared[extra]), (module, extra)
    assert set(EXTRAS.values()) <= set(declared["all"][0].partition("[")[2].rstrip("]").split(","))
