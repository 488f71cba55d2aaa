"""Choose the session cache back-end the configuration asks for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.connections.memcached import MemcachedConnection
from mtpolicyd_core.connections.redis import RedisConnection
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.errors import ConfigError, ConnectionUnavailable
from mtpolicyd_core.session.base import NoSessionCache, SessionCache
from mtpolicyd_core.session.locking import KeyValueBackend, LockingSessionCache
from mtpolicyd_core.session.memcached import MemcachedBackend
from mtpolicyd_core.session.redis import RedisBackend
from mtpolicyd_core.session.sql import DEFAULT_TABLE, SqlBackend

#: module → (connection class it needs, builder of the back-end over that connection)
BACKENDS: dict[str, tuple[type, Callable[[Any, SessionCacheConfig], KeyValueBackend]]] = {
    "Memcached": (MemcachedConnection, lambda conn, _config: MemcachedBackend(conn)),
    "Redis": (RedisConnection, lambda conn, _config: RedisBackend(conn)),
    "Sql": (SqlConnection, lambda conn, config: SqlBackend(conn, config.options.get("table", DEFAULT_TABLE))),
}


def _config_error(config: SessionCacheConfig, message: str) -> ConfigError:
    where = config.location
    return ConfigError(message, where.file if where else None, where.line if where else None)


def build_session_cache(config: SessionCacheConfig, connections: ConnectionPool) -> SessionCache:
    """The session cache for ``config.module`` (None, Memcached, Redis, Sql) over its named connection."""
    if config.module == "None":
        return NoSessionCache()
    if config.module not in BACKENDS:
        raise _config_error(
            config, f"could not load SessionCache {config.module} (known: None, {', '.join(BACKENDS)})"
        )
    connection_class, make_backend = BACKENDS[config.module]
    name = config.connection or config.options.get(config.module.lower()) or config.module.lower()
    try:
        connection = connections.get(name)
    except ConnectionUnavailable:
        raise _config_error(config, f"SessionCache {config.module}: no connection named {name}") from None
    if not isinstance(connection, connection_class):
        raise _config_error(
            config, f"SessionCache {config.module}: connection {name} is not a {config.module} connection"
        )
    if isinstance(connection, MemcachedConnection):
        # the memcached client already prefixes its connection's namespace (plugins share it): not twice
        config = replace(config, namespace=config.namespace.removeprefix(connection.namespace))
    if (
        isinstance(connection, RedisConnection)
        and connection.is_cluster
        and {"{", "}"} & set(config.namespace)
    ):
        raise _config_error(
            config,
            f"SessionCache Redis: the namespace {config.namespace!r} of cluster connection {name} must not"
            " contain braces: session keys use {instance} as the Redis Cluster hash tag",
        )
    return LockingSessionCache(make_backend(connection, config), config)
