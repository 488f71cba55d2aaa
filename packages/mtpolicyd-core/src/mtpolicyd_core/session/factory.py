"""Choose the session cache back-end the configuration asks for."""

from __future__ import annotations

from dataclasses import replace

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError, ConnectionUnavailable
from mtpolicyd_core.roles.connections import connection_module
from mtpolicyd_core.runtime.lazy_import import import_object
from mtpolicyd_core.session.base import NoSessionCache, SessionCache
from mtpolicyd_core.session.locking import KeyValueBackend, LockingSessionCache

#: SessionCache module → its back-end class (imported only when configured); each has ``for_session``
BACKENDS: dict[str, str] = {
    "Memcached": "mtpolicyd_core.session.memcached:MemcachedBackend",
    "Redis": "mtpolicyd_core.session.redis:RedisBackend",
    "Sql": "mtpolicyd_core.session.sql:SqlBackend",
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
    name = config.connection or config.options.get(config.module.lower()) or config.module.lower()
    try:
        connection = connections.get(name)
    except ConnectionUnavailable:
        raise _config_error(config, f"SessionCache {config.module}: no connection named {name}") from None
    if connection_module(connection) != config.module:
        raise _config_error(
            config, f"SessionCache {config.module}: connection {name} is not a {config.module} connection"
        )
    if config.module == "Memcached":
        # the memcached client already prefixes its connection's namespace (plugins share it): not twice
        config = replace(
            config, namespace=config.namespace.removeprefix(getattr(connection, "namespace", ""))
        )
    backend: KeyValueBackend = import_object(BACKENDS[config.module]).for_session(connection, config)
    if backend.hash_tags and {"{", "}"} & set(config.namespace):
        raise _config_error(
            config,
            f"SessionCache Redis: the namespace {config.namespace!r} of cluster connection {name} must not"
            " contain braces: session keys use {instance} as the Redis Cluster hash tag",
        )
    return LockingSessionCache(backend, config)
