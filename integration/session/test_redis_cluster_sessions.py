"""Sessions on a Redis Cluster: the lock protocol as on every back-end, each mail's keys in one slot,
a moved slot followed, a Sentinel fail-over ridden through."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from mtpolicyd_core.config.model import SessionCacheConfig

from integration.fixtures.redis_cluster import RedisClusterServers, RedisSentinelServers, key_slot
from integration.session.conftest import BackendSpec
from integration.session.test_concurrency import counter, increment, receive
from integration.session.test_state_machine import session_machine

_namespaces = itertools.count(1)
PROCESSES = 4
INCREMENTS = 100


@pytest.fixture
def cluster_backend(redis_cluster: RedisClusterServers) -> BackendSpec:
    """Sessions on the shared cluster, under a namespace of this test's own."""
    settings = SessionCacheConfig(namespace=f"c{next(_namespaces)}-")
    return BackendSpec("redis-cluster", "Redis", {"cluster": redis_cluster.startup_nodes}, settings)


def test_cluster_sessions_behave_like_the_model(cluster_backend: BackendSpec) -> None:
    budget = settings(max_examples=8, stateful_step_count=10, deadline=None)
    run_state_machine_as_test(session_machine(cluster_backend), settings=budget)


def test_parallel_increments_on_a_cluster_are_never_lost(cluster_backend: BackendSpec) -> None:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    workers = [
        context.Process(target=increment, args=(cluster_backend, "counted", INCREMENTS, sender))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    failures = [receive(receiver, 300) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert all(isinstance(count, int) for count in failures), failures
    assert asyncio.run(counter(cluster_backend, "counted")) == PROCESSES * INCREMENTS


async def test_a_mails_session_and_lock_sit_on_one_primary(
    cluster_backend: BackendSpec, redis_cluster: RedisClusterServers
) -> None:
    cache = cluster_backend.open()
    for instance in ("4F3A21B9C0", "7D12E4", "A"):
        session = await cache.retrieve(instance)
        lock_key, session_key = cache.lock_key(instance), cache.session_key(instance)
        assert f"{{{instance}}}" in lock_key and key_slot(lock_key) == key_slot(session_key)
        primary = redis_cluster.primary_for(lock_key)
        assert primary.command("EXISTS", lock_key) == 1  # held while the chain runs
        session["score"] = 1
        await cache.store(session)
        assert primary.command("EXISTS", lock_key) == 0
        assert primary.command("EXISTS", session_key) == 1
    await cache.aclose()


async def test_a_session_whose_slot_moved_is_found_through_the_redirection(
    cluster_backend: BackendSpec, redis_cluster: RedisClusterServers
) -> None:
    cache = cluster_backend.open()
    session = await cache.retrieve("MOVING1")
    session["score"] = 7
    await cache.store(session)
    slot = key_slot(cache.session_key("MOVING1"))
    source = redis_cluster.primary_for(cache.session_key("MOVING1"))
    target = next(node for node in redis_cluster.primaries() if node is not source)
    redis_cluster.move_slot(slot, target)  # the client still maps the slot to the old primary: MOVED
    try:
        again = await cache.retrieve("MOVING1")
        assert again["score"] == 7
        await cache.store(again)
        assert target.command("EXISTS", cache.session_key("MOVING1")) == 1
    finally:
        redis_cluster.move_slot(slot, source)
        await cache.aclose()


async def test_sentinel_fail_over_keeps_what_was_replicated_and_commands_ride_it_out(
    redis_sentinel: RedisSentinelServers,
) -> None:
    """With ``failover_timeout`` longer than the switch, a request during it waits instead of failing."""
    options = {
        "sentinels": redis_sentinel.sentinels,
        "service": redis_sentinel.service,
        "failover_timeout": "15",
    }
    spec = BackendSpec("redis-sentinel", "Redis", options, SessionCacheConfig(namespace="s-"))
    cache = spec.open()
    session = await cache.retrieve("KEPT1")
    session["score"] = 3
    await cache.store(session)
    redis_sentinel.wait_replicated()
    killed = redis_sentinel.kill_primary()
    async with asyncio.timeout(60):
        during = await cache.retrieve("KEPT1")  # tried again until the Sentinels name the replica
    assert during["score"] == 3
    await cache.store(during)
    assert redis_sentinel.wait_for_failover(killed) is not killed
    await cache.aclose()
