"""The pool of named connections: created lazily, re-opened after fork, closed at exit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.errors import ConfigError, ConnectionUnavailable
from mtpolicyd_core.runtime.lazy_import import import_object
from mtpolicyd_core.runtime.optional import extras_needed_by

#: connection ``module`` → ``package.module:Class`` implementing it
CONNECTION_MODULES: dict[str, str] = {
    "Sql": "mtpolicyd_core.connections.sql:SqlConnection",
    "Memcached": "mtpolicyd_core.connections.memcached:MemcachedConnection",
    "Redis": "mtpolicyd_core.connections.redis:RedisConnection",
    "Ldap": "mtpolicyd_core.connections.ldap:LdapConnection",
}


class Connection(Protocol):
    """A back-end connection; ``handle`` is the client object plugins use."""

    name: str

    @property
    def handle(self) -> Any: ...

    def reconnect(self) -> None: ...

    async def aclose(self) -> None: ...


def connection_class(config: ConnectionConfig) -> Any:
    """The class implementing ``config.module``; ConfigError at the block for an unknown module."""
    target = CONNECTION_MODULES.get(config.module)
    if target is None:
        where = config.location
        raise ConfigError(
            f"could not load connection {config.name}: unknown module {config.module}"
            f" (known: {', '.join(sorted(CONNECTION_MODULES))})",
            where.file if where else None,
            where.line if where else None,
        )
    with extras_needed_by(f"connection {config.name} (module {config.module})", config.location):
        return import_object(target)


class ConnectionPool:
    """Connections by name; each opens its client on first use."""

    def __init__(self, configs: Iterable[ConnectionConfig] = ()) -> None:
        self._connections: dict[str, Connection] = {}
        for config in configs:
            self._connections[config.name] = connection_class(config)(config)

    def get(self, name: str) -> Connection:
        """The connection called ``name``; ConnectionUnavailable when none is configured."""
        try:
            return self._connections[name]
        except KeyError:
            raise ConnectionUnavailable(f"no connection named {name} is configured") from None

    def handle(self, name: str) -> Any:
        """The client object of the connection called ``name``."""
        return self.get(name).handle

    def names(self) -> list[str]:
        """Configured connection names, in file order."""
        return list(self._connections)

    def reconnect(self) -> None:
        """Forget every client (after fork: the parent's sockets must not be used); each opens anew."""
        for connection in self._connections.values():
            connection.reconnect()

    async def aclose(self) -> None:
        """Close every connection's client."""
        for connection in self._connections.values():
            await connection.aclose()
