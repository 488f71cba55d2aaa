"""Many processes on one session: no lost update; a dead holder blocks for lock_timeout at most."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
import traceback
from multiprocessing.connection import Connection

import pytest
from mtpolicyd_core.config.model import Config, ServerConfig, VirtualHostConfig
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.errors import SessionLockError

from integration.session.conftest import BackendSpec

PROCESSES = 8
#: per process; an SQL lock cycle under eight-way contention costs ~30 ms, so fewer there (still
#: 1 200 contended cycles) to keep the suite's time
INCREMENTS = {"memcached": 500, "redis": 500, "mariadb": 150, "sqlite": 150}
HERE = Location("test.conf", 1)
#: long enough that a busy machine still finds the dead holder's lock in place
LOCK_TIMEOUT = 5


async def increments(backend: BackendSpec, instance: str, times: int) -> int:
    """``times`` full lock, load, +1, store cycles; the lock failures (tried again) on the way."""
    cache = backend.open()
    failures = 0
    done = 0
    while done < times:
        try:
            session = await cache.retrieve(instance)
        except SessionLockError:
            failures += 1
            continue
        session["counter"] = session.get("counter", 0) + 1
        await cache.store(session)
        done += 1
    await cache.aclose()
    return failures


def increment(backend: BackendSpec, instance: str, times: int, report: Connection) -> None:
    """A child process incrementing; it reports its lock failures, or its error."""
    try:
        report.send(asyncio.run(increments(backend, instance, times)))
    except Exception as error:  # the parent must hear about it, not wait forever
        report.send(repr(error) + traceback.format_exc())


async def counter(backend: BackendSpec, instance: str) -> object:
    """The counter stored in the session of ``instance``."""
    cache = backend.open()
    try:
        return (await cache.retrieve(instance)).get("counter")
    finally:
        await cache.aclose()


def receive(receiver: Connection, timeout: float) -> object:
    """The next report of a child process, or a failure after ``timeout`` seconds."""
    if not receiver.poll(timeout):
        pytest.fail(f"no report from a child process within {timeout} s")
    return receiver.recv()


def test_parallel_increments_are_never_lost(backend: BackendSpec) -> None:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    workers = [
        context.Process(target=increment, args=(backend, "counted", INCREMENTS[backend.name], sender))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    failures = [receive(receiver, 600) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert all(isinstance(count, int) for count in failures), failures
    assert asyncio.run(counter(backend, "counted")) == PROCESSES * INCREMENTS[backend.name], (
        f"lock failures: {failures}"
    )


def hold_lock_then_wait_to_be_killed(backend: BackendSpec, locked: Connection) -> None:
    asyncio.run(backend.open().retrieve("orphan"))
    locked.send(time.monotonic())
    time.sleep(60)


async def test_killed_holder_blocks_others_for_at_most_lock_timeout(backend: BackendSpec) -> None:
    spec = backend.with_settings(lock_timeout=LOCK_TIMEOUT)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    holder = context.Process(target=hold_lock_then_wait_to_be_killed, args=(spec, sender))
    holder.start()
    locked_at = receive(receiver, 10)
    assert isinstance(locked_at, float)
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    cache = spec.open()
    with pytest.raises(SessionLockError):
        await cache.retrieve("orphan")
    while True:
        try:
            await cache.retrieve("orphan")
            break
        except SessionLockError:
            # generous: memcached rounds expiry to whole seconds, and a busy machine adds more
            assert time.monotonic() - locked_at < LOCK_TIMEOUT + 8, "lock outlived lock_timeout"
    assert time.monotonic() - locked_at > 0.9  # the dead holder's lock did block
    await cache.aclose()


async def test_exhausted_lock_retries_give_the_configured_failure_answer(backend: BackendSpec) -> None:
    spec = backend.with_settings(failure_mode="action", failure_action="defer_if_permit busy")
    holder = spec.open()
    await holder.retrieve("busy")
    settings = (Setting("module", "Action", HERE), Setting("action", "dunno", HERE))
    answer = Block("Plugin", "answer", HERE, settings)
    config = Config(
        path="test.conf",
        dialect="2",
        server=ServerConfig(),
        connections=(),
        session_cache=spec.settings,
        vhosts=(VirtualHostConfig("1", "test", (answer,), HERE),),
        root=Block("root", None, HERE),
    )
    engine = PolicyEngine(config, session_cache=spec.open())
    # 49 attempts, sleeping 50 us * 1 ... 49 in between: about 61 ms plus round trips, never a hang
    async with asyncio.timeout(60):
        result = await engine.process(
            engine.vhosts[0], {"request": "smtpd_access_policy", "instance": "busy"}
        )
    assert result.as_policyd_response() == "action=defer_if_permit busy\n\n"
    await engine.aclose()
    await holder.aclose()
