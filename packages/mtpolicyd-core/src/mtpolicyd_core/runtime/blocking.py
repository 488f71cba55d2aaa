"""A bounded thread pool for libraries without an asyncio API, shared by the plugins of one process.

Libraries without an asyncio API (pyspf, ldap3, smtplib, Berkeley DB, GeoIP)
run on a small bounded pool of threads, so a request waiting on them never
holds up the event loop. The pool is made on first use, in the process that
uses it: threads do not survive ``fork()``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: threads of the pool unless ``worker_threads`` says otherwise
DEFAULT_THREADS = 16


class BlockingCalls:
    """Runs blocking functions on a bounded thread pool and awaits their results."""

    def __init__(self, threads: int = DEFAULT_THREADS) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` on a pool thread, in the caller's context (its log context);
        more calls than threads wait their turn."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="mtpolicyd-blocking")
        call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def after_fork(self) -> None:
        """Forget the parent's pool (its threads exist only in the parent)."""
        self._executor = None

    def close(self) -> None:
        """Let running calls finish in the background; start no new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
