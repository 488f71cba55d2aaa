"""mtpolicyd.conf → validated :class:`Config`, for the 1.x (globals) and 2.x (blocks) dialects.

Plugin blocks are checked later, when the engine builds them from their
declared options; here are the globals, connections, the session cache and
the virtual hosts.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any, cast

from mtpolicyd_core.config.dialect import ONE_X_GLOBALS, TWO_X_BLOCKS, choose_dialect
from mtpolicyd_core.config.dsn import dsn_to_url
from mtpolicyd_core.config.http_endpoints import HTTP_ADDRESS_OPTIONS, http_address_problem
from mtpolicyd_core.config.model import (
    Config,
    ConnectionConfig,
    Dialect,
    ServerConfig,
    SessionCacheConfig,
    SessionFailureMode,
    VirtualHostConfig,
)
from mtpolicyd_core.config.parser import parse_config_file, parse_config_text
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.connections.configured import SWITCH, validate_connection
from mtpolicyd_core.connections.pool import connection_class
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.perl.truth import perl_true

log = logging.getLogger("mtpolicyd.config")

_SERVER_TEXT = ("user", "group", "pid_file", "log_file", "chroot", *HTTP_ADDRESS_OPTIONS)
_SERVER_NAMES = ("syslog_ident", "syslog_facility", "host", "program_name")
#: request limits and concurrency inside a worker (must be positive)
_POSITIVE = (
    "max_line_length",
    "max_request_size",
    "max_request_attributes",
    "read_timeout",
    "max_concurrent_requests",
    "worker_threads",
)
#: worker supervision (never negative)
_SUPERVISION = ("max_requests_jitter", "heartbeat_timeout", "max_connections_per_worker", "graceful_timeout")
_SERVER_INTEGERS = (
    "log_level",
    "min_servers",
    "min_spare_servers",
    "max_spare_servers",
    "max_servers",
    "max_requests",
    "request_timeout",
    "keepalive_timeout",
    "max_keepalive",
    *_POSITIVE,
    "dns_cache_size",
    "dns_cache_max_ttl",
    *_SUPERVISION,
)
_SESSION_POLICY = ("config_dialect", "session_failure", "session_failure_action")
KNOWN_GLOBALS = frozenset(
    (
        *_SERVER_TEXT,
        *_SERVER_NAMES,
        *_SERVER_INTEGERS,
        "port",
        "vhost_by_policy_context",
        *_SESSION_POLICY,
        *ONE_X_GLOBALS,
    )
)
_FAILURE_MODES = ("close", "continue", "action")
_PORT = re.compile(r"(?:(.+):)?(\d+)")
#: 2.x SessionCache module → its option naming the connection (and that option's default)
_SESSION_CONNECTION_OPTION = {"Memcached": "memcached", "Redis": "redis", "Sql": "sql"}


def load_config(path: str, dialect: Dialect | None = None) -> Config:
    """Read, parse and validate the config file at ``path``; ``dialect`` forces one (``--dialect``)."""
    warnings: list[str] = []
    root = parse_config_file(path, warnings)
    return config_from_tree(root, path, warnings, dialect)


def load_config_text(text: str, path: str = "<string>", dialect: Dialect | None = None) -> Config:
    """Parse and validate config ``text`` as if read from ``path``."""
    warnings: list[str] = []
    root = parse_config_text(text, path, warnings)
    return config_from_tree(root, path, warnings, dialect)


def config_from_tree(
    root: Block, path: str, warnings: list[str] | None = None, forced_dialect: Dialect | None = None
) -> Config:
    """Validate a parsed tree into the typed model; ConfigError names file and line."""
    reader = _Reader(root, path, warnings if warnings is not None else [])
    choice = choose_dialect(root, path, forced_dialect)
    for where, message in choice.warnings:
        reader.warn(where, message)
    dialect = choice.dialect
    reader.warn_unknown()
    server = reader.server()
    if dialect == "1":
        connections, session_cache = reader.one_x_backends()
    else:
        connections = reader.two_x_connections()
        session_cache = reader.two_x_session_cache(connections)
    vhosts = reader.vhosts()
    reader.check_listening(server, vhosts)
    return Config(
        path=path,
        dialect=dialect,
        dialect_reason=choice.reason,
        dialect_forced=choice.forced,
        server=server,
        connections=connections,
        session_cache=session_cache,
        vhosts=vhosts,
        root=root,
        warnings=tuple(reader.warnings),
    )


def _error(message: str, where: Location) -> ConfigError:
    return ConfigError(message, where.file, where.line)


def _integer(setting: Setting, context: str = "") -> int:
    text = setting.value.strip()
    if not text.lstrip("+-").isdigit():
        prefix = f"{context}: " if context else ""
        raise _error(f"{prefix}{setting.key} must be an integer, not {setting.value!r}", setting.location)
    return int(text)


@dataclass
class _Reader:
    """Reads one tree; collects warnings about what it ignores."""

    root: Block
    path: str
    warnings: list[str]

    def warn(self, where: Location, message: str) -> None:
        text = f"{where}: {message}"
        self.warnings.append(text)
        log.warning("%s", text)

    def warn_unknown(self) -> None:
        for setting in self.root.settings():
            if setting.key not in KNOWN_GLOBALS:
                self.warn(setting.location, f"unknown global option {setting.key} ignored")
        for block in self.root.blocks():
            if block.kind not in ("VirtualHost", *TWO_X_BLOCKS):
                self.warn(block.location, f"unknown block <{block.kind}> ignored")

    # -- server ---------------------------------------------------------------------

    def server(self) -> ServerConfig:
        values: dict[str, Any] = {}
        for setting in self.root.settings():
            key = setting.key
            if key in _SERVER_TEXT:
                values[key] = setting.value or None
            elif key in _SERVER_NAMES:
                values[key] = setting.value
            elif key in _SERVER_INTEGERS:
                values[key] = _integer(setting)
            elif key == "vhost_by_policy_context":
                values[key] = perl_true(setting.value)
            elif key == "port":
                values["ports"] = _ports(setting)
        server = ServerConfig(**values)
        self._check_server(server)
        return server

    def _check_server(self, server: ServerConfig) -> None:
        def at(key: str) -> Location:
            setting = self.root.setting(key)
            return setting.location if setting else Location(self.path, 1)

        if not 0 <= server.log_level <= 4:
            raise _error(f"log_level must be 0 (err) to 4 (debug), not {server.log_level}", at("log_level"))
        if server.max_spare_servers >= server.max_servers:
            raise _error('"max_spare_servers" must be less than "max_servers"', at("max_spare_servers"))
        for other in ("min_servers", "max_spare_servers"):
            if server.min_spare_servers > getattr(server, other):
                raise _error(
                    f'"min_spare_servers" ({server.min_spare_servers}) must not be more than'
                    f' "{other}" ({getattr(server, other)})',
                    at("min_spare_servers"),
                )
        if server.min_servers > server.max_servers:
            raise _error(
                f'"min_servers" ({server.min_servers}) must not be more than'
                f' "max_servers" ({server.max_servers})',
                at("min_servers"),
            )
        for key in _POSITIVE:
            if getattr(server, key) <= 0:
                raise _error(f"{key} must be a positive integer", at(key))
        for key in ("dns_cache_size", "dns_cache_max_ttl", *_SUPERVISION):
            if (getattr(server, key) or 0) < 0:
                raise _error(f"{key} must not be negative", at(key))
        for key in HTTP_ADDRESS_OPTIONS:
            value = getattr(server, key)
            problem = value and http_address_problem(key, value)
            if problem:
                raise _error(problem, at(key))

    # -- session failure policy -----------------------------------------------------

    def _failure_policy(self, block: Block | None) -> tuple[SessionFailureMode, str]:
        """``failure_mode``/``failure_action`` in ``<SessionCache>`` win over the globals."""

        def pick(block_key: str, global_key: str) -> Setting | None:
            return (block.setting(block_key) if block else None) or self.root.setting(global_key)

        mode_setting = pick("failure_mode", "session_failure")
        action_setting = pick("failure_action", "session_failure_action")
        mode = SessionCacheConfig.failure_mode
        if mode_setting is not None:
            if mode_setting.value not in _FAILURE_MODES:
                raise _error(
                    f"{mode_setting.key} must be one of {', '.join(_FAILURE_MODES)},"
                    f" not {mode_setting.value!r}",
                    mode_setting.location,
                )
            mode = cast(SessionFailureMode, mode_setting.value)
        action = action_setting.value if action_setting is not None else SessionCacheConfig.failure_action
        if mode == "action" and not action.strip():
            culprit = action_setting or mode_setting
            assert culprit is not None
            raise _error("session failure mode action needs a session_failure_action", culprit.location)
        return mode, action

    # -- 1.x back-ends --------------------------------------------------------------

    def one_x_backends(self) -> tuple[tuple[ConnectionConfig, ...], SessionCacheConfig]:
        """1.x: memcached (always) keeps sessions; ``db_dsn`` opens the ``db`` connection."""
        root = self.root
        servers = root.setting("memcached_servers")
        namespace = root.get("memcached_namespace")
        namespace = "mt-" if namespace is None else namespace
        locations = {
            option: setting.location
            for option, key in (("servers", "memcached_servers"), ("namespace", "memcached_namespace"))
            if (setting := root.setting(key)) is not None
        }
        memcached = ConnectionConfig(
            "memcached",
            "Memcached",
            {"servers": servers.value if servers else "127.0.0.1:11211", "namespace": namespace},
            servers.location if servers else None,
            locations,
        )
        connections = [self._checked(memcached)]
        dsn = root.setting("db_dsn")
        if dsn is not None and dsn.value.strip():
            user, password = root.get("db_user") or "", root.get("db_password") or ""
            url = self._url(dsn, user, password)
            options = {"dsn": dsn.value, "url": url, "user": user, "password": password}
            connections.append(self._checked(ConnectionConfig("db", "Sql", options, dsn.location)))
        mode, action = self._failure_policy(None)
        numbers: dict[str, Any] = {
            field: _integer(setting)
            for field, key in (
                ("expire", "memcached_expire"),
                ("lock_wait", "session_lock_wait"),
                ("lock_max_retry", "session_lock_max_retry"),
                ("lock_timeout", "session_lock_timeout"),
            )
            if (setting := root.setting(key)) is not None
        }
        session_cache = SessionCacheConfig(
            module="Memcached",
            connection="memcached",
            namespace=namespace,
            failure_mode=mode,
            failure_action=action,
            location=servers.location if servers else None,
        )
        session_cache = replace(session_cache, **numbers)
        return tuple(connections), session_cache

    @staticmethod
    def _url(dsn: Setting, user: str, password: str) -> str:
        try:
            return dsn_to_url(dsn.value, user, password).render_as_string(hide_password=False)
        except ValueError as error:
            raise _error(f"{dsn.key}: {error}", dsn.location) from None

    # -- 2.x back-ends --------------------------------------------------------------

    def two_x_connections(self) -> tuple[ConnectionConfig, ...]:
        connections = []
        for block in self.root.blocks("Connection"):
            if not block.name:
                raise _error("<Connection> needs a name: <Connection NAME>", block.location)
            module = block.get("module")
            if module is None:
                raise _error(f"no module defined for connection {block.name}!", block.location)
            for nested in block.blocks():
                self.warn(nested.location, f"block <{nested.kind}> inside <Connection {block.name}> ignored")
            settings = [setting for setting in block.settings() if setting.key != "module"]
            options = {setting.key: setting.value for setting in settings}
            locations = {setting.key: setting.location for setting in settings}
            dsn = block.setting("dsn")
            if module == "Sql" and dsn is not None:
                options["url"] = self._url(dsn, options.get("user", ""), options.get("password", ""))
                locations["url"] = dsn.location
            config = ConnectionConfig(block.name, module, options, block.location, locations)
            connections.append(self._checked(config))
        return tuple(connections)

    def _checked(self, config: ConnectionConfig) -> ConnectionConfig:
        """``config`` once its options are read as its connection class declares them.

        A value of the wrong type or a contradicting combination is a ConfigError at its line; an
        unknown option is a warning, as the original ignores it.
        """

        def warn(where: Location | None, message: str) -> None:
            self.warn(where or config.location or Location(self.path, 1), message)

        validate_connection(connection_class(config), config, warn)
        return config

    def two_x_session_cache(self, connections: tuple[ConnectionConfig, ...]) -> SessionCacheConfig:
        """``<SessionCache>``, or no session cache at all (module None) without one."""
        block = next(self.root.blocks("SessionCache"), None)
        mode, action = self._failure_policy(block)
        if block is None:
            return SessionCacheConfig(module="None", failure_mode=mode, failure_action=action)
        if block.name is not None:
            raise _error(f"<SessionCache> takes no name, found <SessionCache {block.name}>", block.location)
        module = block.get("module")
        if module is None:
            raise _error("no module defined for SessionCache!", block.location)
        numbers: dict[str, Any] = {
            key: _integer(setting, "SessionCache")
            for key in ("expire", "lock_wait", "lock_max_retry", "lock_timeout")
            if (setting := block.setting(key)) is not None
        }
        connection_name = None
        namespace = ""
        if module != "None":
            option = _SESSION_CONNECTION_OPTION.get(module, module.lower())
            connection_name = block.get("connection") or block.get(option) or option
            connection = next((conn for conn in connections if conn.name == connection_name), None)
            namespace = connection.options.get("namespace", "") if connection else ""
        session_cache = SessionCacheConfig(
            module=module,
            connection=connection_name,
            namespace=namespace,
            failure_mode=mode,
            failure_action=action,
            options={setting.key: setting.value for setting in block.settings()},
            location=block.location,
        )
        return replace(session_cache, **numbers)

    # -- virtual hosts --------------------------------------------------------------

    def vhosts(self) -> tuple[VirtualHostConfig, ...]:
        vhosts = tuple(self._vhost(block) for block in self.root.blocks("VirtualHost"))
        if not vhosts:
            raise ConfigError("no virtual hosts configured!", self.path)
        return vhosts

    def check_listening(self, server: ServerConfig, vhosts: tuple[VirtualHostConfig, ...]) -> None:
        """Warn of a vhost no listening port reaches and of a listening port without a vhost.

        The original accepts both silently: such a vhost never runs (unless chosen by
        ``policy_context``), and a request on such a port gets no answer.
        """
        listened = {_port_number(entry) for entry in server.ports}
        port_setting = self.root.setting("port")
        listing = ", ".join(server.ports)
        for vhost in vhosts:
            if int(vhost.port) in listened:
                continue
            if server.vhost_by_policy_context:
                reach = f"it is reached only by a request whose policy_context is {vhost.name!r}"
            else:
                reach = "its plugins never run"
            self.warn(
                vhost.location,
                f"<VirtualHost {vhost.port}>: port {vhost.port} is not listened on ({listing}): {reach}",
            )
        served = {int(vhost.port) for vhost in vhosts}
        for port in sorted(listened - served):
            where = port_setting.location if port_setting else Location(self.path, 1)
            self.warn(
                where,
                f"port {port} has no <VirtualHost {port}>: a request arriving there is closed unanswered"
                + (" unless its policy_context names a vhost" if server.vhost_by_policy_context else ""),
            )

    def _vhost(self, block: Block) -> VirtualHostConfig:
        where = block.location
        port = (block.name or "").strip()
        if not port:
            raise _error("<VirtualHost> needs a port: <VirtualHost PORT>", where)
        if not port.isdigit():
            raise _error(f"<VirtualHost {port}>: the port must be a number", where)
        name = block.get("name")
        if name is None:
            raise _error(f'<VirtualHost {port}> needs a name: name = "..."', where)
        plugins = tuple(block.blocks("Plugin"))
        if not plugins:
            raise _error(f"no <Plugin> defined for <VirtualHost> on port {port}!", where)
        for setting in block.settings():
            if setting.key not in ("name", "parallel_dns"):
                self.warn(setting.location, f"<VirtualHost {port}>: unknown option {setting.key} ignored")
        parallel_dns = block.setting("parallel_dns")
        for nested in block.blocks():
            if nested.kind != "Plugin":
                self.warn(nested.location, f"<VirtualHost {port}>: unknown block <{nested.kind}> ignored")
        return VirtualHostConfig(
            port=port,
            name=name,
            plugins=plugins,
            location=where,
            parallel_dns=parallel_dns is not None and _on(parallel_dns),
        )


def _on(setting: Setting) -> bool:
    """A switch, read as the connections' switches are: ``on``/``yes``/``true``/``1`` or the opposites."""
    try:
        return SWITCH.convert(setting.value)
    except ValueError as error:
        raise _error(f"{setting.key}: {error}", setting.location) from None


def _ports(setting: Setting) -> tuple[str, ...]:
    """``port``: a comma list of ``[host:]port``."""
    entries = tuple(part for part in comma_list(setting.value.strip()) if part)
    if not entries:
        raise _error("port needs at least one [host:]port", setting.location)
    for entry in entries:
        if not _PORT.fullmatch(entry):
            raise _error(f"port: {entry!r} is not [host:]port", setting.location)
        if not 0 < _port_number(entry) < 65536:
            raise _error(f"port: {entry!r}: the port number must be 1 to 65535", setting.location)
    return entries


def _port_number(entry: str) -> int:
    """The TCP port of a ``[host:]port`` entry."""
    return int(entry.rpartition(":")[2])
