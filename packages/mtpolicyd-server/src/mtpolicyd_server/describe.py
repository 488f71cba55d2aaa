"""``mtpolicyd -d``: the configuration as the engine understood it, every effective value shown.

The output reads like a config file: settings in Config::General syntax, each
plugin option with its effective value and a comment saying whether it was set
in the file (with its line) or is the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from mtpolicyd_core.config.dump import quote_value
from mtpolicyd_core.config.model import ConnectionConfig, SessionCacheConfig
from mtpolicyd_core.config.tree import Block, Location
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.perl.numbers import perl_str
from mtpolicyd_core.plugin import Plugin

_INDENT = "  "
_HIDDEN = "********"


def describe_engine(engine: PolicyEngine) -> str:
    """The dialect, server settings, connections, session cache, vhosts and plugins, warnings."""
    config = engine.config
    lines = [
        f"# configuration file {config.path}",
        f"# dialect {config.dialect}.x: {config.dialect_reason}",
        "",
        "# server settings",
    ]
    for field in dataclasses.fields(config.server):
        shown_as = "port" if field.name == "ports" else field.name
        lines.append(_line(0, shown_as, _value(getattr(config.server, field.name))))
    lines += ["", "# connections", *_connections(config.connections, engine)]
    lines += ["", "# session cache", *_session_cache(config.session_cache)]
    lines += [
        "",
        "# DNS resolver of each worker (dns_cache_size and dns_cache_max_ttl above)",
        f"# {engine.dns.describe()}",
    ]
    for vhost_config, vhost in zip(config.vhosts, engine.vhosts, strict=True):
        lines += ["", f"<VirtualHost {vhost.port}>{_where(vhost_config.location)}"]
        lines.append(_line(1, "name", quote_value(vhost.name)))
        lines.append(_line(1, "parallel_dns", "on" if vhost.parallel_dns else "off"))
        lines += _plugins(vhost_config.plugins, vhost.chain.plugins, 1)
        lines.append("</VirtualHost>")
    warnings = [*config.warnings, *engine.warnings]
    lines += ["", f"# {len(warnings)} warning(s)", *(f"# warning: {warning}" for warning in warnings)]
    return "".join(line + "\n" for line in lines)


def _line(depth: int, key: str, value: str, comment: str = "") -> str:
    return f"{_INDENT * depth}{key} = {value}{'   # ' + comment if comment else ''}"


def _where(location: Location | None) -> str:
    return f"   # {location}" if location is not None else ""


def _value(value: Any) -> str:
    """An effective value in config syntax; None shows as unset."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return perl_str(value)
    if isinstance(value, tuple):
        return quote_value(",".join(perl_str(item) for item in value))
    return quote_value(perl_str(value))


def _option_text(key: str, value: str) -> str:
    """A connection option, with secrets hidden."""
    if "password" in key:
        return quote_value(_HIDDEN)
    if key == "url":
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - SQLAlchemy only for configs with SQL

        return quote_value(make_url(value).render_as_string(hide_password=True))
    return quote_value(value)


def _connections(connections: Iterable[ConnectionConfig], engine: PolicyEngine) -> list[str]:
    """Each connection with every option its class declares, set (with its line) or default."""
    lines = []
    for config in connections:
        lines.append(f"<Connection {config.name}>{_where(config.location)}")
        lines.append(_line(1, "module", quote_value(config.module)))
        connection = engine.connections.get(config.name)
        declared = getattr(connection, "option_values", None)
        values: Mapping[str, Any] = declared() if declared is not None else dict(config.options)
        for key in sorted(values):
            value = values[key]
            where = config.option_locations.get(key)
            origin = "default" if key not in config.options else f"set, line {where.line}" if where else "set"
            shown = _value(value) if value is None or not isinstance(value, str) else _option_text(key, value)
            lines.append(_line(1, key, shown, origin))
        lines.append("</Connection>")
    return lines or ["# (none)"]


def _session_cache(cache: SessionCacheConfig) -> list[str]:
    lines = [f"<SessionCache>{_where(cache.location)}"]
    for field in dataclasses.fields(cache):
        if field.name not in ("options", "location"):
            lines.append(_line(1, field.name, _value(getattr(cache, field.name))))
    lines.append("</SessionCache>")
    return lines


def _plugins(blocks: Iterable[Block], plugins: Iterable[Plugin], depth: int) -> list[str]:
    """Each plugin with every declared option; nested chains indented below it."""
    lines = []
    for block, plugin in zip(blocks, plugins, strict=True):
        indent = _INDENT * depth
        lines.append(f"{indent}<Plugin {plugin.name}>{_where(block.location)}")
        lines.append(_line(depth + 1, "module", quote_value(block.get("module") or "")))
        lines += _options(block, plugin.option_values(), depth + 1)
        lines += [
            _line(depth + 1, f"uc_{option}", quote_value(field), "user config: session field overrides it")
            for option, field in plugin.user_config_fields.items()
        ]
        if plugin.chain is not None:
            lines += _plugins(block.blocks("Plugin"), plugin.chain.plugins, depth + 1)
        lines.append(f"{indent}</Plugin>")
    return lines


def _options(block: Block, values: Mapping[str, Any], depth: int) -> list[str]:
    """Every declared option (``option_values`` holds them all) and where its value came from."""
    lines = []
    for name in sorted(values):
        setting = block.setting(name)
        origin = f"set, line {setting.location.line}" if setting is not None else "default"
        lines.append(_line(depth, name, _value(values[name]), origin))
    return lines
