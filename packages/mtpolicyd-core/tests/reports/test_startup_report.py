"""The start-up report: the dialect line, and a session back-end that does not answer told once."""

from __future__ import annotations

import logging

import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.config.model import Config
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.reports.startup_report import check_session_cache, dialect_line
from mtpolicyd_core.session.base import NoSessionCache
from mtpolicyd_core.session.locking import LockingSessionCache
from session.fakes import FakeBackend

VHOST = '<VirtualHost 12345>\nname = v\n<Plugin a>\nmodule = Action\naction = "reject x"\n</Plugin>\n'
VHOST += "</VirtualHost>\n"


def config(text: str) -> Config:
    return load_config_text(text + VHOST, "test.conf")


def down_cache(config: Config) -> LockingSessionCache:
    backend = FakeBackend()
    backend.down.add("all")
    return LockingSessionCache(backend, config.session_cache)


def test_dialect_line_names_file_dialect_and_evidence() -> None:
    line = dialect_line(config("memcached_servers = 127.0.0.1:1\n"))
    assert line == "configuration test.conf read as dialect 1.x: memcached_servers at line 1"


async def test_session_back_end_down_at_start_is_one_error_naming_line_and_consequence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loaded = config("log_level = 2\nmemcached_servers = 127.0.0.1:1\n")
    with caplog.at_level(logging.ERROR, "mtpolicyd.startup"):
        message = await check_session_cache(loaded, down_cache(loaded))
    assert message is not None
    assert message.startswith(
        "test.conf line 2: the session cache does not answer at start-up (session cache fake:"
    )
    assert "every request with an instance is closed unanswered" in message
    assert "Perl 2.x ignores these globals and keeps no session: config_dialect = 2" in message
    assert [record.getMessage() for record in caplog.records] == [message]


async def test_a_forced_1x_dialect_gets_no_hint_about_2x() -> None:
    loaded = config("config_dialect = 1\nsession_failure = continue\n")
    message = await check_session_cache(loaded, down_cache(loaded))
    assert message is not None
    assert "requests are answered without a session" in message
    assert "Perl 2.x" not in message


async def test_session_back_end_that_answers_is_not_reported() -> None:
    loaded = config("memcached_servers = 127.0.0.1:1\n")
    assert await check_session_cache(loaded, LockingSessionCache(FakeBackend(), loaded.session_cache)) is None
    assert await check_session_cache(loaded, NoSessionCache()) is None


async def test_engine_startup_logs_the_dialect_line_at_notice(caplog: pytest.LogCaptureFixture) -> None:
    engine = PolicyEngine(config(""), session_cache=NoSessionCache())
    with caplog.at_level(25, "mtpolicyd.startup"):
        await engine.startup()
    assert "configuration test.conf read as dialect 2.x: no <Connection>/<SessionCache> block" in caplog.text
