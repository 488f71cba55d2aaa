"""The metrics hooks: nothing by default; chain, session lock and DNS resolver report to what is installed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from fake_nameserver import start_nameservers
from mtpolicyd_core.chain import PluginChain
from mtpolicyd_core.config.model import SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import PluginError, SessionError, SessionLockError
from mtpolicyd_core.lookups.dns_wire import A
from mtpolicyd_core.lookups.resolver import DnsLookupError, DnsResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.connections import ConnectionOption
from mtpolicyd_core.runtime.metrics import Metrics, action_word, error_kind, install_metrics, metrics
from mtpolicyd_core.session.locking import SESSION_BACKEND, LockingSessionCache
from session.fakes import FakeBackend


class Recorder(Metrics):
    """Counts every hook call by its arguments."""

    enabled = True

    def __init__(self) -> None:
        self.calls: Counter[tuple[object, ...]] = Counter()
        self.seconds: list[float] = []

    def plugin_ran(self, vhost: str, plugin: str, seconds: float) -> None:
        self.calls["plugin_ran", vhost, plugin] += 1
        self.seconds.append(seconds)

    def session_lock_waited(self, seconds: float) -> None:
        self.calls[("session_lock_waited",)] += 1

    def session_lock_failed(self) -> None:
        self.calls[("session_lock_failed",)] += 1

    def backend_error(self, backend: str, kind: str) -> None:
        self.calls["backend_error", backend, kind] += 1

    def dns_lookup(self, cache_hit: bool) -> None:
        self.calls["dns_lookup", cache_hit] += 1

    def dns_query_sent(self) -> None:
        self.calls[("dns_query_sent",)] += 1

    def dns_failure(self, kind: str) -> None:
        self.calls["dns_failure", kind] += 1


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    installed = Recorder()
    before = metrics()
    install_metrics(installed)
    yield installed
    install_metrics(before)


def test_metrics_are_off_and_do_nothing_by_default() -> None:
    assert type(metrics()) is Metrics
    assert not metrics().enabled
    metrics().request_answered("v", "p", "reject", 0.1)  # no error, no effect


@pytest.mark.parametrize(
    ("actions", "word"),
    [
        (["reject go away"], "reject"),
        (["PREPEND X-A: 1", "reject"], "prepend"),
        ([], "dunno"),
        ([""], "dunno"),
    ],
)
def test_action_word_is_the_first_lines_verb_as_policy_sim_counts(actions: list[str], word: str) -> None:
    assert action_word(actions) == word


class MemcachedTimeout(Exception):
    pass


def test_error_kind_tells_timeouts_of_any_library_also_as_cause() -> None:
    assert error_kind(TimeoutError()) == "timeout"
    assert error_kind(MemcachedTimeout()) == "timeout"
    wrapped = RuntimeError("query failed")
    wrapped.__cause__ = TimeoutError()
    assert error_kind(wrapped) == "timeout"
    assert error_kind(ConnectionRefusedError()) == "error"


# --- the chain ---------------------------------------------------------------------------------

CONTEXT = PluginContext("vh", "2", ConnectionPool(), lambda blocks, context: PluginChain("vh", ()))


class Canned(Plugin):
    """Answers a fixed result or fails; declares a connection so its failures count against it."""

    cache = ConnectionOption("Memcached", default="memcached")

    def __init__(self, name: str, result: PluginResult | None = None, fail: BaseException | None = None):
        super().__init__(name, CONTEXT, {"on_error": "continue", "log_level": "4", "cache": "shared"}, {})
        self.result = result
        self.fail = fail

    async def run(self, request: Request) -> list[PluginResult]:
        if self.fail is not None:
            raise self.fail
        return [self.result] if self.result else []


async def test_chain_reports_each_plugin_run_and_a_failure_against_its_connection(recorder: Recorder) -> None:
    chain = PluginChain(
        "vh",
        (
            Canned("slow", fail=TimeoutError()),
            Canned("broken", fail=RuntimeError("down")),
            Canned("answer", PluginResult("reject", abort=True)),
            Canned("never", PluginResult("accept", abort=True)),
        ),
    )
    assert (await chain.run(Request({}, {}))).actions == ["reject"]
    assert recorder.calls == {
        ("plugin_ran", "vh", "slow"): 1,
        ("plugin_ran", "vh", "broken"): 1,
        ("plugin_ran", "vh", "answer"): 1,
        ("backend_error", "shared", "timeout"): 1,
        ("backend_error", "shared", "error"): 1,
    }
    assert all(seconds >= 0 for seconds in recorder.seconds)


async def test_chain_failure_that_fails_the_request_is_counted_too(recorder: Recorder) -> None:
    failing = Canned("broken", fail=RuntimeError("down"))
    failing.on_error = "stop"
    with pytest.raises(PluginError):
        await PluginChain("vh", (failing,)).run(Request({}, {}))
    assert recorder.calls[("backend_error", "shared", "error")] == 1


# --- the session lock --------------------------------------------------------------------------


def session_cache(backend: FakeBackend, **settings: object) -> LockingSessionCache:
    async def no_sleep(seconds: float) -> None:
        pass

    config = SessionCacheConfig(module="Fake", **settings)  # type: ignore[arg-type]
    return LockingSessionCache(backend, config, sleep=no_sleep)


async def test_session_lock_wait_is_reported_once_per_taken_lock(recorder: Recorder) -> None:
    cache = session_cache(FakeBackend())
    await cache.store(await cache.retrieve("abc"))
    await cache.store(await cache.retrieve("abc"))
    assert recorder.calls == {("session_lock_waited",): 2}


async def test_session_lock_not_had_within_the_retries_is_a_failure(recorder: Recorder) -> None:
    backend = FakeBackend()
    holder = session_cache(backend, lock_max_retry=3)
    await holder.retrieve("abc")
    with pytest.raises(SessionLockError):
        await session_cache(backend, lock_max_retry=3).retrieve("abc")
    assert recorder.calls[("session_lock_failed",)] == 1


async def test_session_lock_wait_in_the_worker_that_times_out_is_a_failure(recorder: Recorder) -> None:
    cache = session_cache(FakeBackend(), lock_timeout=0)
    await cache.retrieve("abc")
    with pytest.raises(SessionLockError):
        await cache.retrieve("abc")
    assert recorder.calls[("session_lock_failed",)] == 1


async def test_session_back_end_failure_is_a_back_end_error(recorder: Recorder) -> None:
    backend = FakeBackend()
    backend.down.add("all")
    with pytest.raises(SessionError):
        await session_cache(backend).retrieve("abc")
    assert recorder.calls[("backend_error", SESSION_BACKEND, "error")] == 1
    assert recorder.calls[("session_lock_failed",)] == 0


# --- the DNS resolver --------------------------------------------------------------------------


async def test_dns_lookups_cache_hits_sent_queries_and_timeouts(recorder: Recorder) -> None:
    [server] = await start_nameservers({("2.0.0.127.bl.test.", "A"): ["127.0.0.2"]}, 1)
    resolver = DnsResolver(
        ResolverConfig(nameservers=(server.host,), port=server.port, try_timeout=0.05, attempts=1)
    )
    try:
        await resolver.query("2.0.0.127.bl.test", A)
        await resolver.query("2.0.0.127.bl.test", A)
        server.faults.drop = 1000
        with pytest.raises(DnsLookupError):
            await asyncio.wait_for(resolver.query("3.0.0.127.bl.test", A), 30)
    finally:
        await resolver.aclose()
        await server.close()
    assert recorder.calls == {
        ("dns_lookup", False): 2,
        ("dns_lookup", True): 1,
        ("dns_query_sent",): 2,
        ("dns_failure", "timeout"): 1,
    }
