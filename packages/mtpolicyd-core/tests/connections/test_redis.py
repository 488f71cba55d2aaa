"""The Redis connection: server, socket, Sentinel primary or Cluster; tries through a fail-over."""

from __future__ import annotations

import pytest
import redis
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.redis import RedisConnection
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import AuthenticationError, ClusterDownError, TryAgainError


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


def test_cluster_option_gives_a_cluster_client_over_its_nodes() -> None:
    options = {"cluster": "10.0.0.1:7000, 10.0.0.2:7001", "password": "pw"}
    connection = RedisConnection(ConnectionConfig("r", "Redis", options))
    client = connection.handle
    assert isinstance(client, RedisCluster)
    assert [(node.host, node.port) for node in client.startup_nodes] == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    assert connection.is_cluster and connection.kind == "cluster"
    assert "cluster 10.0.0.1:7000, 10.0.0.2:7001" in connection.describe()


def test_sentinels_and_service_give_the_primary_the_sentinels_name() -> None:
    options = {"sentinels": "10.0.0.1:26379,10.0.0.2:26379", "service": "mymaster", "db": "1"}
    connection = RedisConnection(ConnectionConfig("r", "Redis", options))
    pool = connection.handle.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster" and pool.connection_kwargs["db"] == 1
    assert connection.kind == "sentinel" and not connection.is_cluster


def test_sentinels_without_service_use_server_as_the_original() -> None:
    options = {"sentinels": "10.0.0.1:26379", "server": "10.1.2.3:6380"}
    connection = RedisConnection(ConnectionConfig("r", "Redis", options))
    assert connection.kind == "server"
    assert connection.handle.connection_pool.connection_kwargs["host"] == "10.1.2.3"


def test_service_name_is_another_name_for_service() -> None:
    options = {"sentinels": "10.0.0.1:26379", "service_name": "mymaster"}
    assert RedisConnection(ConnectionConfig("r", "Redis", options)).kind == "sentinel"


class Flaky:
    """A command failing ``failures`` times with ``error`` before it answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self, _client: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "answer"


@pytest.mark.parametrize(
    "error",
    [
        redis.ConnectionError("refused"),
        redis.TimeoutError("slow"),
        ClusterDownError("down"),
        TryAgainError("again"),
    ],
)
async def test_passing_failures_are_tried_again_until_the_command_answers(error: Exception) -> None:
    connection = RedisConnection(ConnectionConfig("r", "Redis", {"failover_timeout": "5"}))
    command = Flaky(3, error)
    assert await connection.run(command) == "answer"
    assert command.calls == 4


async def test_tries_end_after_failover_timeout() -> None:
    connection = RedisConnection(ConnectionConfig("r", "Redis", {"failover_timeout": "0.2"}))
    command = Flaky(1000, redis.ConnectionError("refused"))
    with pytest.raises(redis.ConnectionError):
        await connection.run(command)
    assert 2 <= command.calls < 10  # pauses of 50, 100 ms …: a few tries, not a busy loop


async def test_no_second_try_with_failover_timeout_0() -> None:
    connection = RedisConnection(ConnectionConfig("r", "Redis", {"failover_timeout": "0"}))
    command = Flaky(1, redis.ConnectionError("refused"))
    with pytest.raises(redis.ConnectionError):
        await connection.run(command)
    assert command.calls == 1


@pytest.mark.parametrize("error", [AuthenticationError("bad password"), redis.ResponseError("WRONGTYPE")])
async def test_failures_another_try_cannot_mend_are_raised_at_once(error: Exception) -> None:
    connection = RedisConnection(ConnectionConfig("r", "Redis", {"failover_timeout": "5"}))
    command = Flaky(1, error)
    with pytest.raises(type(error)):
        await connection.run(command)
    assert command.calls == 1
