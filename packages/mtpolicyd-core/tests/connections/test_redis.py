"""The Redis connection: TCP server or UNIX socket, database, password, short timeouts."""

from __future__ import annotations

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.redis import RedisConnection


def test_tcp_server_database_and_password_reach_the_client() -> None:
    options = {"server": "10.1.2.3:6380", "db": "2", "password": "secret"}
    kwargs = RedisConnection(ConnectionConfig("r", "Redis", options)).handle.connection_pool.connection_kwargs
    settings = (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"])
    assert settings == ("10.1.2.3", 6380, 2, "secret")
    assert kwargs["socket_timeout"] == 1.0


def test_sock_wins_over_server() -> None:
    options = {"server": "10.1.2.3:6380", "sock": "/run/redis.sock"}
    kwargs = RedisConnection(ConnectionConfig("r", "Redis", options)).handle.connection_pool.connection_kwargs
    assert kwargs["path"] == "/run/redis.sock"


def test_reconnect_makes_a_new_client() -> None:
    connection = RedisConnection(ConnectionConfig("r", "Redis", {}))
    first = connection.handle
    connection.reconnect()
    assert connection.handle is not first
