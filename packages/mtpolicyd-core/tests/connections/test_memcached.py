"""The memcached connection: server list, namespace prefix, fail-fast client settings."""

from __future__ import annotations

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.memcached import MemcachedConnection, parse_servers
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient


def test_servers_are_a_comma_list_with_default_port() -> None:
    assert parse_servers("10.0.0.1:11311 , cache.example") == [("10.0.0.1", 11311), ("cache.example", 11211)]


def test_handle_is_a_hash_client_prefixing_the_namespace() -> None:
    connection = MemcachedConnection(
        ConnectionConfig("m", "Memcached", {"servers": "127.0.0.1:1,127.0.0.1:2", "namespace": "mt-"})
    )
    client = connection.handle
    assert isinstance(client, HashClient)
    assert client.key_prefix == b"mt-"
    assert sorted(client.clients) == ["127.0.0.1:1", "127.0.0.1:2"]
    assert client.retry_attempts == 0


def test_one_server_gets_a_plain_client_on_local_memcached_by_default() -> None:
    client = MemcachedConnection(ConnectionConfig("m", "Memcached", {})).handle
    assert isinstance(client, Client)
    assert client.server == ("127.0.0.1", 11211)


def test_reconnect_makes_a_new_client() -> None:
    connection = MemcachedConnection(ConnectionConfig("m", "Memcached", {}))
    first = connection.handle
    connection.reconnect()
    assert connection.handle is not first
