"""The engine applies the session failure policy when the cache fails (in-process fake cache)."""

from __future__ import annotations

import logging

import pytest
from mtpolicyd_core.chain import PluginChain
from mtpolicyd_core.config.model import (
    Config,
    ServerConfig,
    SessionCacheConfig,
    SessionFailureMode,
    VirtualHostConfig,
)
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.engine import PolicyEngine, RequestFailed
from mtpolicyd_core.errors import PluginError, SessionError, SessionLockError
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import ChainResult

HERE = Location("test.conf", 1)
REQUEST = {"request": "smtpd_access_policy", "instance": "abc"}


class FakeCache:
    """A session cache that fails on demand and records stores."""

    def __init__(
        self, retrieve_error: SessionError | None = None, store_error: SessionError | None = None
    ) -> None:
        self.retrieve_error = retrieve_error
        self.store_error = store_error
        self.stored: list[Session] = []

    async def retrieve(self, instance: str) -> Session:
        if self.retrieve_error is not None:
            raise self.retrieve_error
        return {"_instance": instance}

    async def store(self, session: Session) -> None:
        self.stored.append(dict(session))
        if self.store_error is not None:
            raise self.store_error

    async def probe(self) -> None:
        """Always answers."""

    def reconnect(self) -> None:
        """Nothing to re-open."""

    async def aclose(self) -> None:
        """Nothing to close."""


def plugin(name: str, **settings: str) -> Block:
    return Block("Plugin", name, HERE, tuple(Setting(key, value, HERE) for key, value in settings.items()))


def engine(
    cache: FakeCache,
    *plugins: Block,
    mode: SessionFailureMode = "close",
    failure_action: str = "defer_if_permit Service temporarily unavailable",
    parallel_dns: bool = False,
) -> PolicyEngine:
    plugins = plugins or (plugin("answer", module="Action", action="reject from chain"),)
    config = Config(
        path="test.conf",
        dialect="2",
        server=ServerConfig(),
        connections=(),
        session_cache=SessionCacheConfig(module="Fake", failure_mode=mode, failure_action=failure_action),
        vhosts=(VirtualHostConfig("12345", "test", plugins, HERE, parallel_dns=parallel_dns),),
        root=Block("root", None, HERE),
    )
    return PolicyEngine(config, session_cache=cache)


@pytest.mark.parametrize("error", [SessionError("memcached down"), SessionLockError("abc")])
async def test_failure_mode_close_fails_the_request(error: SessionError) -> None:
    policy = engine(FakeCache(retrieve_error=error), mode="close")
    # the original's text (vhost and instance come with the log line's context)
    with pytest.raises(RequestFailed, match=f"^{error}$"):
        await policy.process(policy.vhosts[0], REQUEST)


async def test_failure_mode_continue_runs_the_chain_without_session() -> None:
    cache = FakeCache(retrieve_error=SessionError("down"))
    policy = engine(cache, mode="continue")
    result = await policy.process(policy.vhosts[0], REQUEST)
    assert result.as_policyd_response() == "action=reject from chain\n\n"
    assert cache.stored == []


async def test_failure_mode_action_answers_the_failure_action(caplog: pytest.LogCaptureFixture) -> None:
    policy = engine(FakeCache(retrieve_error=SessionLockError("abc")), mode="action")
    with caplog.at_level(logging.ERROR):
        result = await policy.process(policy.vhosts[0], REQUEST)
    assert result.as_policyd_response() == "action=defer_if_permit Service temporarily unavailable\n\n"
    assert "could not acquire lock for session abc" in caplog.text


async def test_failure_action_is_configurable() -> None:
    policy = engine(FakeCache(retrieve_error=SessionError("down")), mode="action", failure_action="dunno")
    assert (await policy.process(policy.vhosts[0], REQUEST)).as_policyd_response() == "action=dunno\n\n"


async def test_request_without_instance_never_touches_the_cache() -> None:
    cache = FakeCache(retrieve_error=SessionError("down"))
    policy = engine(cache, mode="close")
    result = await policy.process(policy.vhosts[0], {"request": "smtpd_access_policy"})
    assert result.as_policyd_response() == "action=reject from chain\n\n"


async def test_session_is_stored_even_when_the_chain_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FakeCache()
    policy = engine(cache)

    async def change_session_then_fail(_chain: PluginChain, request: Request) -> ChainResult:
        assert request.session is not None
        request.session["x"] = "1"
        raise PluginError("answer", "broken")

    monkeypatch.setattr(PluginChain, "run", change_session_then_fail)
    with pytest.raises(RequestFailed, match="broken"):
        await policy.process(policy.vhosts[0], REQUEST)
    assert cache.stored == [{"_instance": "abc", "x": "1"}]


async def test_session_is_stored_when_starting_the_look_ups_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FakeCache()
    policy = engine(cache, parallel_dns=True)

    def broken_prefetch(_chain: PluginChain, request: Request) -> None:
        assert request.session is not None
        request.session["x"] = "1"
        raise RuntimeError("no look-up started")

    monkeypatch.setattr(PluginChain, "prefetch", broken_prefetch)
    with pytest.raises(RequestFailed, match="no look-up started"):
        await policy.process(policy.vhosts[0], REQUEST)
    assert cache.stored == [{"_instance": "abc", "x": "1"}]


async def test_failed_store_is_logged_and_the_answer_still_given(caplog: pytest.LogCaptureFixture) -> None:
    policy = engine(FakeCache(store_error=SessionError("gone")))
    with caplog.at_level(logging.ERROR):
        result = await policy.process(policy.vhosts[0], REQUEST)
    assert result.as_policyd_response() == "action=reject from chain\n\n"
    assert "could not store session: gone" in caplog.text
