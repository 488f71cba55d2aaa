"""The memcached connection: server list, namespace prefix, keys memcached cannot take, after fork."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.memcached import HASHED_PREFIX, SAFE_KEY, MemcachedConnection, memcached_key
from mtpolicyd_core.connections.memcached_pool import MemcachedPool


def test_handle_is_a_pool_over_the_servers_prefixing_the_namespace() -> None:
    connection = MemcachedConnection(
        ConnectionConfig("m", "Memcached", {"servers": "127.0.0.1:1,127.0.0.1:2", "namespace": "mt-"})
    )
    pool = connection.handle
    assert isinstance(pool, MemcachedPool)
    assert sorted(pool.clients) == ["127.0.0.1:1", "127.0.0.1:2"]
    assert {client.namespace for client in pool.clients.values()} == {"mt-"}


def test_one_server_on_local_memcached_by_default() -> None:
    assert list(MemcachedConnection(ConnectionConfig("m", "Memcached", {})).handle.clients) == [
        "127.0.0.1:11211"
    ]


def test_reconnect_makes_a_new_pool() -> None:
    connection = MemcachedConnection(ConnectionConfig("m", "Memcached", {}))
    first = connection.handle
    connection.reconnect()
    assert connection.handle is not first


@pytest.mark.parametrize("key", ["abc", "mt-lock_x", "a,b@example.org,c"])
def test_keys_memcached_takes_are_kept(key: str) -> None:
    assert memcached_key(key) == key


@pytest.mark.parametrize("key", ["with blank", "ümlaut", "x" * 201, ""])
def test_keys_memcached_cannot_take_are_stored_under_their_digest(key: str) -> None:
    hashed = memcached_key(key)
    assert hashed.startswith(HASHED_PREFIX) and SAFE_KEY.fullmatch(hashed)


@given(st.text(max_size=300))
def test_no_key_a_client_sends_names_another_keys_digest(key: str) -> None:
    other = memcached_key("a key with blanks")
    assert memcached_key(key) != other or key == "a key with blanks"
    assert memcached_key(other) != other  # a digest-looking key is hashed again
