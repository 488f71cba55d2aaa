"""The lock, load, store protocol of SPEC §3, written once over a small key/value back-end.

Retries follow the original exactly: attempts ``1 … lock_max_retry - 1`` (49 with the
default 50), sleeping ``lock_wait * attempt`` microseconds after each failed one, then
the request fails (SessionLockError). Requests of one mail inside one worker first
queue on an in-process lock (:mod:`mtpolicyd_core.session.instance_locks`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.errors import SessionError, SessionLockError
from mtpolicyd_core.request import Session
from mtpolicyd_core.runtime.metrics import error_kind, metrics
from mtpolicyd_core.session import serde
from mtpolicyd_core.session.instance_locks import InstanceLocks

log = logging.getLogger("mtpolicyd.session")

#: written after the namespace in every key of ours, so the Perl mtpolicyd never reads our JSON
#: sessions (it dies on them) nor we its Storable ones, even on one memcached with one namespace
SESSION_KEY_MARKER = "py:"
#: the instance :meth:`LockingSessionCache.probe` reads (Postfix's instance ids hold no ``-``)
PROBE_INSTANCE = "mtpolicyd-start-up-probe"
#: the ``backend`` label of the session cache's errors in the metrics
SESSION_BACKEND = "session-cache"


class KeyValueBackend(Protocol):
    """The primitives a session back-end offers; keys arrive with the namespace already applied."""

    #: exceptions of the client library that mean "back-end failed" (turned into SessionError)
    errors: tuple[type[BaseException], ...]
    #: keys spread over Redis Cluster slots: the instance is written as a hash tag ``{<instance>}``
    hash_tags: bool

    def describe(self) -> str:
        """Back-end kind and address, for error messages."""
        ...

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        """Create ``key`` holding ``token`` for ``ttl`` seconds, only if absent (or expired)."""
        ...

    async def delete_lock(self, key: str, token: str) -> None:
        """Remove the lock ``key`` (where the back-end can tell, only when it still holds ``token``)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The value stored at ``key``, or None."""
        ...

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds."""
        ...

    async def lock_and_get(self, lock_key: str, token: str, ttl: int, key: str) -> tuple[bool, bytes | None]:
        """``add_lock``; when taken, ``get`` too (one round trip where the back-end can; see steps.py)."""
        ...

    async def set_and_unlock(self, key: str, value: bytes, ttl: int, lock_key: str, token: str) -> None:
        """``set``, then ``delete_lock`` also when setting failed (one round trip where it can)."""
        ...

    def reconnect(self) -> None:
        """Forget the parent's client (after fork)."""
        ...

    async def aclose(self) -> None:
        """Close the client."""
        ...


def lock_attempts(max_retry: int) -> range:
    """Attempt numbers of the original's loop ``for (try = 1; try < max_retry; try++)``."""
    return range(1, max_retry)


class LockingSessionCache:
    """A SessionCache over any KeyValueBackend: lock ``<ns>py:lock_<instance>``, data ``<ns>py:<instance>``.

    The original's keys lack the ``py:`` marker; see :data:`SESSION_KEY_MARKER`. On a back-end with
    ``hash_tags`` (Redis Cluster) the instance is written ``{<instance>}``: Redis hashes only what is
    between the first braces, so a mail's session and lock share one slot, hence one primary.
    """

    def __init__(
        self,
        backend: KeyValueBackend,
        config: SessionCacheConfig,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.backend = backend
        self.config = config
        self._sleep = sleep
        self._tokens: dict[str, str] = {}
        self._local = InstanceLocks()
        self._tagged = backend.hash_tags

    def _instance_part(self, instance: str) -> str:
        return f"{{{instance}}}" if self._tagged else instance

    def session_key(self, instance: str) -> str:
        """Where the session of ``instance`` is stored."""
        return f"{self.config.namespace}{SESSION_KEY_MARKER}{self._instance_part(instance)}"

    def lock_key(self, instance: str) -> str:
        """The lock of ``instance``."""
        return f"{self.config.namespace}{SESSION_KEY_MARKER}lock_{self._instance_part(instance)}"

    @contextmanager
    def _backend_errors(self, instance: str, doing: str) -> Iterator[None]:
        """Turn the client library's failures into SessionError naming back-end and instance."""
        try:
            yield
        except self.backend.errors as error:
            metrics().backend_error(SESSION_BACKEND, error_kind(error))
            reason = str(error) or type(error).__name__  # TimeoutError says nothing by itself
            raise SessionError(
                f"session cache {self.backend.describe()}: {doing} instance={instance} failed: {reason}"
            ) from error

    async def retrieve(self, instance: str) -> Session:
        """Take the lock (in this worker, then with the original's retries in the back-end), then load.

        Waiting behind a request of the same mail in this worker ends after ``lock_timeout``, when
        the holder's back-end lock would have expired anyway.
        """
        counted = metrics()
        started = time.perf_counter() if counted.enabled else 0.0
        try:
            async with asyncio.timeout(self.config.lock_timeout):
                await self._local.acquire(instance)
        except TimeoutError:
            counted.session_lock_failed()
            raise SessionLockError(instance) from None
        token = secrets.token_hex(8)
        try:
            data = await self._lock_and_load(instance, token)
        except BaseException as error:
            self._local.release(instance)
            if isinstance(error, SessionLockError):
                counted.session_lock_failed()
            raise
        if counted.enabled:
            counted.session_lock_waited(time.perf_counter() - started)
        self._tokens[instance] = token
        return serde.loads(data, instance) or {"_instance": instance}

    async def _lock_and_load(self, instance: str, token: str) -> bytes | None:
        lock_key, key, ttl = self.lock_key(instance), self.session_key(instance), self.config.lock_timeout
        for attempt in lock_attempts(self.config.lock_max_retry):
            with self._backend_errors(instance, "locking"):
                locked, data = await self.backend.lock_and_get(lock_key, token, ttl, key)
            if locked:
                return data
            await self._sleep(self.config.lock_wait * attempt / 1_000_000)
        raise SessionLockError(instance)

    async def store(self, session: Session) -> None:
        """Store the session for ``expire`` seconds and release its lock (also when storing fails)."""
        instance = session.get("_instance")
        if not isinstance(instance, str):
            return
        key, data = self.session_key(instance), serde.dumps(session)
        token = self._tokens.pop(instance, None)
        if token is None:
            log.warning("instance=%s: storing a session whose lock this worker does not hold", instance)
            with self._backend_errors(instance, "storing"):
                await self.backend.set(key, data, self.config.expire)
            return
        try:
            with self._backend_errors(instance, "storing"):
                await self.backend.set_and_unlock(
                    key, data, self.config.expire, self.lock_key(instance), token
                )
        finally:
            self._local.release(instance)

    async def probe(self) -> None:
        """Read one key that no mail uses; SessionError naming the back-end when that fails."""
        failures: tuple[type[BaseException], ...] = (*self.backend.errors, OSError)
        try:
            await self.backend.get(self.session_key(PROBE_INSTANCE))
        except failures as error:
            raise SessionError(
                f"session cache {self.backend.describe()}: {error or type(error).__name__}"
            ) from error

    def reconnect(self) -> None:
        """Forget the parent's back-end client (after fork); locks of the parent are not ours."""
        self._tokens.clear()
        self._local = InstanceLocks()
        self.backend.reconnect()

    async def aclose(self) -> None:
        """Close the back-end."""
        await self.backend.aclose()
