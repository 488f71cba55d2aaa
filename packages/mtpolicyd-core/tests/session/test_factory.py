"""The factory picks the back-end and its named connection from the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.config.model import ConnectionConfig, SessionCacheConfig
from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.session.base import NoSessionCache
from mtpolicyd_core.session.factory import build_session_cache
from mtpolicyd_core.session.locking import LockingSessionCache
from mtpolicyd_core.session.memcached import MemcachedBackend
from mtpolicyd_core.session.redis import RedisBackend
from mtpolicyd_core.session.sql import SqlBackend
from redis.crc import key_slot

WHERE = Location("mtpolicyd.conf", 7)


def pool(tmp_path: Path) -> ConnectionPool:
    return ConnectionPool(
        [
            ConnectionConfig("memcached", "Memcached", {"servers": "127.0.0.1:1"}),
            ConnectionConfig("redis", "Redis", {"server": "127.0.0.1:1"}),
            ConnectionConfig("db", "Sql", {"url": f"sqlite:///{tmp_path}/db.sqlite"}),
        ]
    )


def test_module_none_keeps_no_sessions(tmp_path: Path) -> None:
    assert isinstance(build_session_cache(SessionCacheConfig(), pool(tmp_path)), NoSessionCache)


@pytest.mark.parametrize(
    ("module", "connection", "backend"),
    [("Memcached", None, MemcachedBackend), ("Redis", None, RedisBackend), ("Sql", "db", SqlBackend)],
)
def test_module_gets_its_back_end_over_the_named_connection(
    tmp_path: Path, module: str, connection: str | None, backend: type
) -> None:
    cache = build_session_cache(SessionCacheConfig(module=module, connection=connection), pool(tmp_path))
    assert isinstance(cache, LockingSessionCache)
    assert isinstance(cache.backend, backend)


def test_connection_may_be_named_by_the_originals_option(tmp_path: Path) -> None:
    config = SessionCacheConfig(module="Sql", options={"sql": "db", "table": "sessions"})
    cache = build_session_cache(config, pool(tmp_path))
    assert isinstance(cache, LockingSessionCache)
    assert isinstance(cache.backend, SqlBackend)
    assert cache.backend.table.name == "sessions"


def test_unknown_module_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mtpolicyd\.conf line 7: could not load SessionCache Foo"):
        build_session_cache(SessionCacheConfig(module="Foo", location=WHERE), pool(tmp_path))


def test_missing_connection_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no connection named cache"):
        config = SessionCacheConfig(module="Redis", connection="cache", location=WHERE)
        build_session_cache(config, pool(tmp_path))


def test_connection_of_the_wrong_kind_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="connection db is not a Redis connection"):
        build_session_cache(SessionCacheConfig(module="Redis", connection="db"), pool(tmp_path))


def test_memcached_namespace_of_the_connection_is_not_prefixed_twice(tmp_path: Path) -> None:
    connections = ConnectionPool([ConnectionConfig("memcached", "Memcached", {"namespace": "mt-"})])
    cache = build_session_cache(SessionCacheConfig(module="Memcached", namespace="mt-"), connections)
    assert isinstance(cache, LockingSessionCache)
    assert cache.lock_key("abc") == "py:lock_abc"
    assert isinstance(cache.backend, MemcachedBackend)
    assert {client.namespace for client in cache.backend.connection.handle.clients.values()} == {"mt-"}


def cluster_cache(namespace: str = "mt-") -> LockingSessionCache:
    connections = ConnectionPool([ConnectionConfig("redis", "Redis", {"cluster": "127.0.0.1:7000"})])
    cache = build_session_cache(SessionCacheConfig(module="Redis", namespace=namespace), connections)
    assert isinstance(cache, LockingSessionCache)
    return cache


def test_single_redis_keeps_the_readable_key_names(tmp_path: Path) -> None:
    cache = build_session_cache(SessionCacheConfig(module="Redis", namespace="mt-"), pool(tmp_path))
    assert isinstance(cache, LockingSessionCache)
    assert (cache.session_key("4A2B"), cache.lock_key("4A2B")) == ("mt-py:4A2B", "mt-py:lock_4A2B")


def test_redis_cluster_keys_carry_the_instance_as_hash_tag() -> None:
    cache = cluster_cache()
    assert (cache.session_key("4A2B"), cache.lock_key("4A2B")) == ("mt-py:{4A2B}", "mt-py:lock_{4A2B}")


@given(st.text(min_size=1).filter(lambda text: not text.startswith("}")))
def test_a_mails_session_and_lock_share_one_cluster_slot(instance: str) -> None:
    """Every instance Postfix sends; an empty one, or one starting with ``}``, has an empty hash tag
    (Redis then hashes whole keys): its session and lock may sit in two slots, which nothing needs."""
    cache = cluster_cache()
    session, lock = (
        key.encode("utf-8", "surrogatepass")
        for key in (cache.session_key(instance), cache.lock_key(instance))
    )
    assert key_slot(session) == key_slot(lock)


def test_cluster_namespace_with_braces_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not contain braces"):
        cluster_cache("mt{a-")
