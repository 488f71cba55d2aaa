"""The lock, load, store protocol over any back-end (SPEC §3), with an in-process back-end."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.errors import SessionError, SessionLockError
from mtpolicyd_core.session.locking import LockingSessionCache, lock_attempts

from .fakes import FakeBackend


def make_cache(
    backend: FakeBackend, sleeps: list[float] | None = None, **settings: object
) -> LockingSessionCache:
    config = SessionCacheConfig(module="Fake", **settings)  # type: ignore[arg-type]

    async def record(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return LockingSessionCache(backend, config, sleep=record)


async def test_unknown_instance_gives_a_new_session_with_its_instance() -> None:
    assert await make_cache(FakeBackend()).retrieve("abc") == {"_instance": "abc"}


async def test_stored_session_comes_back_on_next_retrieve() -> None:
    cache = make_cache(FakeBackend())
    session = await cache.retrieve("abc")
    session["score"] = 2.5
    await cache.store(session)
    assert await cache.retrieve("abc") == {"_instance": "abc", "score": 2.5}


async def test_keys_are_namespace_marker_then_instance_or_lock_instance() -> None:
    backend = FakeBackend()
    cache = make_cache(backend, namespace="mt-")
    await cache.store(await cache.retrieve("abc"))
    assert backend.calls == [
        ("add_lock", "mt-py:lock_abc"),
        ("get", "mt-py:abc"),
        ("set", "mt-py:abc"),
        ("delete_lock", "mt-py:lock_abc"),
    ]


async def test_lock_lives_lock_timeout_and_session_lives_expire() -> None:
    backend = FakeBackend()
    cache = make_cache(backend, lock_timeout=7, expire=99)
    await cache.store(await cache.retrieve("abc"))
    assert backend.ttls == {"py:lock_abc": 7, "py:abc": 99}


async def test_locked_session_is_retried_as_the_original_then_fails() -> None:
    backend = FakeBackend()
    sleeps: list[float] = []
    holder, waiter = make_cache(backend), make_cache(backend, sleeps)
    await holder.retrieve("abc")
    with pytest.raises(SessionLockError, match="could not acquire lock for session abc"):
        await waiter.retrieve("abc")
    attempts = [call for call in backend.calls if call[0] == "add_lock"]
    assert len(attempts) == 1 + 49
    assert sleeps == pytest.approx([50 * attempt / 1e6 for attempt in range(1, 50)])


@pytest.mark.parametrize(("max_retry", "attempts"), [(50, 49), (2, 1), (1, 0), (0, 0)])
def test_attempts_follow_the_originals_loop_bound(max_retry: int, attempts: int) -> None:
    assert len(lock_attempts(max_retry)) == attempts


async def test_lock_is_taken_once_the_holder_stores() -> None:
    backend = FakeBackend()
    holder = make_cache(backend)
    session = await holder.retrieve("abc")
    session["n"] = 1

    async def holder_finishes(_seconds: float) -> None:
        if "py:lock_abc" in backend.data:
            await holder.store(session)

    waiter = LockingSessionCache(backend, SessionCacheConfig(), sleep=holder_finishes)
    assert await waiter.retrieve("abc") == {"_instance": "abc", "n": 1}


async def test_lock_expires_after_lock_timeout() -> None:
    backend = FakeBackend()
    await make_cache(backend).retrieve("abc")
    backend.now = 10.0
    assert await make_cache(backend).retrieve("abc") == {"_instance": "abc"}


async def test_unreachable_back_end_raises_session_error_naming_back_end_and_instance() -> None:
    backend = FakeBackend()
    backend.down = {"all"}
    with pytest.raises(SessionError, match=r"fake: locking instance=abc failed"):
        await make_cache(backend).retrieve("abc")


async def test_failed_load_releases_the_lock() -> None:
    backend = FakeBackend()
    backend.down = {"get"}
    with pytest.raises(SessionError):
        await make_cache(backend).retrieve("abc")
    assert "py:lock_abc" not in backend.data


async def test_failed_store_still_releases_the_lock() -> None:
    backend = FakeBackend()
    cache = make_cache(backend)
    session = await cache.retrieve("abc")
    backend.down = {"set"}
    with pytest.raises(SessionError, match="storing"):
        await cache.store(session)
    assert "py:lock_abc" not in backend.data


async def test_store_of_a_session_without_instance_does_nothing() -> None:
    backend = FakeBackend()
    await make_cache(backend).store({"score": 1})
    assert backend.calls == []


async def test_store_without_holding_the_lock_keeps_the_others_lock(caplog: pytest.LogCaptureFixture) -> None:
    backend = FakeBackend()
    await make_cache(backend).retrieve("abc")
    with caplog.at_level(logging.WARNING):
        await make_cache(backend).store({"_instance": "abc"})
    assert "py:lock_abc" in backend.data
    assert "does not hold" in caplog.text


async def test_corrupt_stored_session_counts_as_new(caplog: pytest.LogCaptureFixture) -> None:
    backend = FakeBackend()
    backend.data["py:abc"] = (b"\x80not json", 1e9)
    with caplog.at_level(logging.WARNING):
        assert await make_cache(backend).retrieve("abc") == {"_instance": "abc"}
    assert "instance=abc" in caplog.text


async def test_reconnect_forgets_inherited_locks_and_reopens_back_end() -> None:
    backend = FakeBackend()
    cache = make_cache(backend)
    await cache.retrieve("abc")
    cache.reconnect()
    await cache.store({"_instance": "abc"})
    assert ("reconnect", "") in backend.calls
    assert "py:lock_abc" in backend.data


async def test_requests_of_one_mail_in_one_worker_queue_instead_of_failing() -> None:
    backend = FakeBackend()
    cache = make_cache(backend, lock_max_retry=2)
    first = await cache.retrieve("abc")
    second = asyncio.ensure_future(cache.retrieve("abc"))
    await asyncio.sleep(0)
    assert not second.done()
    assert [call for call in backend.calls if call[0] == "add_lock"] == [("add_lock", "py:lock_abc")]
    first["n"] = 1
    await cache.store(first)
    assert await second == {"_instance": "abc", "n": 1}


async def test_queued_request_of_one_mail_gives_up_after_lock_timeout() -> None:
    cache = make_cache(FakeBackend(), lock_timeout=0)
    await cache.retrieve("abc")
    with pytest.raises(SessionLockError):
        await cache.retrieve("abc")
