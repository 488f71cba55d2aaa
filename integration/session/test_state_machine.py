"""Stateful property test: lock, load, store and corrupt content against a model, on every back-end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from mtpolicyd_core.errors import SessionLockError
from mtpolicyd_core.request import Session

from integration.session.conftest import BackendSpec

# not "lock_a": like the original, its session key would be the lock key of "a" (Postfix never sends it)
INSTANCES = st.sampled_from(["a", "b"])
WORKERS = st.integers(0, 1)
_examples = itertools.count(1)
T = TypeVar("T")
#: far beyond any expiry the tests wait for: only a session that never expires reaches it
EXPIRY_BOUND = 15.0


def session_machine(backend: BackendSpec) -> type[RuleBasedStateMachine]:
    """A machine of two workers sharing ``backend``; one lock attempt each, so contention fails fast."""

    class SessionMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            spec = backend.with_settings(
                namespace=f"{backend.settings.namespace}{next(_examples)}-", lock_max_retry=2, lock_wait=1
            )
            self.loop = asyncio.new_event_loop()
            self.caches = [spec.open(), spec.open()]
            self.stored: dict[str, Session] = {}
            self.holder: dict[str, int] = {}
            self.held: dict[tuple[int, str], Session] = {}

        def wait(self, step: Coroutine[Any, Any, T]) -> T:
            return self.loop.run_until_complete(step)

        @rule(worker=WORKERS, instance=INSTANCES)
        def lock_and_load(self, worker: int, instance: str) -> None:
            if self.holder.get(instance) == worker:
                return  # the same worker queues the request behind its holder: nothing to model here
            if instance in self.holder:
                with pytest.raises(SessionLockError):
                    self.wait(self.caches[worker].retrieve(instance))
                return
            session = self.wait(self.caches[worker].retrieve(instance))
            assert session == self.stored.get(instance, {"_instance": instance})
            self.holder[instance] = worker
            self.held[(worker, instance)] = session

        @precondition(lambda self: self.held)
        @rule(data=st.data(), value=st.integers() | st.text(max_size=5) | st.floats(allow_nan=False))
        def store_and_unlock(self, data: st.DataObject, value: object) -> None:
            worker, instance = data.draw(st.sampled_from(sorted(self.held)))
            session = self.held.pop((worker, instance))
            session["value"] = value
            session["count"] = session.get("count", 0) + 1
            self.wait(self.caches[worker].store(session))
            self.stored[instance] = dict(session)
            del self.holder[instance]

        @rule(instance=INSTANCES)
        def corrupt_stored_content(self, instance: str) -> None:
            cache = self.caches[0]
            self.wait(cache.backend.set(cache.session_key(instance), b"\x80\x04garbage", 300))
            self.stored.pop(instance, None)

        def teardown(self) -> None:
            for cache in self.caches:
                self.wait(cache.aclose())
            self.loop.close()

    return SessionMachine


def test_sessions_behave_like_the_model(backend: BackendSpec) -> None:
    machine = session_machine(backend)
    budget = settings(max_examples=12, stateful_step_count=12, deadline=None)
    run_state_machine_as_test(machine, settings=budget)


async def test_sessions_and_locks_expire(backend: BackendSpec) -> None:
    short = backend.with_settings(expire=1, lock_timeout=1, lock_max_retry=2)
    cache, other = short.open(), short.open()
    session = await cache.retrieve("abc")
    session["score"] = 1
    await cache.store(session)
    await other.retrieve("abc")  # held and never released
    with pytest.raises(SessionLockError):
        await cache.retrieve("abc")
    async with asyncio.timeout(EXPIRY_BOUND):  # the lock, then the session, expire on their own
        while True:
            try:
                found = await cache.retrieve("abc")
            except SessionLockError:
                await asyncio.sleep(0.1)
                continue
            await cache.store(found)
            if found == {"_instance": "abc"}:
                break
            await asyncio.sleep(0.1)
    for each in (cache, other):
        await each.aclose()
