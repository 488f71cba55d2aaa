"""Choose the session cache back-end the configuration asks for."""

from __future__ import annotations

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.session.base import NoSessionCache, SessionCache


def build_session_cache(config: SessionCacheConfig, connections: ConnectionPool) -> SessionCache:
    """The session cache for ``config.module`` (None, Memcached, Redis, Sql)."""
    if config.module == "None":
        return NoSessionCache()
    where = config.location
    raise ConfigError(
        f"could not load SessionCache {config.module}",
        where.file if where else None,
        where.line if where else None,
    )
