"""Role: a plugin option that names a back-end connection, and the typed client behind it.

The original's ``Role::Connection`` declares an option called after the connection
(``db``, ``memcached``, ``redis``, ``ldap``) whose value, by default that same word,
names a ``<Connection>`` of the right module. 1.x configs get ``db`` from ``db_dsn``
and ``memcached`` from ``memcached_servers``.
"""

from __future__ import annotations

from typing import Any

from mtpolicyd_core.connections import Connection, ConnectionPool
from mtpolicyd_core.connections.pool import CONNECTION_MODULES
from mtpolicyd_core.errors import ConnectionUnavailable
from mtpolicyd_core.options import STR, Option, declared_options


class ConnectionOption(Option[str]):
    """An option naming a connection of one module (``Sql``, ``Memcached``, ``Redis``, ``Ldap``)."""

    def __init__(self, module: str, default: str, doc: str = "") -> None:
        super().__init__(STR, default=default, doc=doc or f"name of the {module} connection to use")
        self.module = module


def connection_options(owner: type) -> list[ConnectionOption]:
    """The connection options an object's class declares."""
    return [option for option in declared_options(owner) if isinstance(option, ConnectionOption)]


def connection_module(connection: object) -> str | None:
    """The ``module`` a connection was configured with, when it can be told."""
    config = getattr(connection, "config", None)
    if config is not None:
        return str(config.module)
    path = f"{type(connection).__module__}:{type(connection).__qualname__}"
    return next((module for module, target in CONNECTION_MODULES.items() if target == path), None)


def checked_connection(pool: ConnectionPool, name: str, module: str, user: str) -> Connection:
    """Connection ``name``; ValueError naming ``user`` when it is missing or of another module."""
    try:
        connection = pool.get(name)
    except ConnectionUnavailable:
        raise ValueError(f"no connection {name} configured! ({user} needs a {module} connection)") from None
    configured = connection_module(connection)
    if configured is not None and configured != module:
        raise ValueError(
            f"connection {name} is a {configured} connection, but {user} needs a {module} connection"
        )
    return connection


def connection_handle(pool: ConnectionPool, name: str, module: str, user: str) -> Any:
    """The client of connection ``name`` (made on first use, in the worker using it)."""
    return checked_connection(pool, name, module, user).handle


class UsesConnections:
    """Role: fetches the clients of the connections named by the object's ``ConnectionOption``s."""

    connections: ConnectionPool
    name: str

    def connection_of(self, option_name: str) -> Connection:
        """The connection named by the connection option ``option_name``."""
        option = getattr(type(self), option_name)
        assert isinstance(option, ConnectionOption)
        return checked_connection(
            self.connections, getattr(self, option_name), option.module, f"plugin {self.name}"
        )

    def handle_of(self, option_name: str) -> Any:
        """The client behind the connection option ``option_name``."""
        return self.connection_of(option_name).handle

    def check_connections(self) -> None:
        """Fail early (when the config is loaded, like the original) when a connection is missing."""
        for option in connection_options(type(self)):
            self.connection_of(option.name)
