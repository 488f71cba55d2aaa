"""Log context: vhost, instance and plugin on every line about a request; a plugin's log_level."""

from __future__ import annotations

import logging

import pytest
from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.request import Request
from mtpolicyd_core.runtime.log_context import LogContextFilter, plugin_context, request_context

CONTEXT = PluginContext("test", "2", ConnectionPool(), build_chain)


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("x", logging.ERROR, __file__, 1, message, (), None)
    made.__dict__.update(extra)
    LogContextFilter().filter(made)
    return made


def test_context_of_the_running_request_is_rendered() -> None:
    with request_context("reputation", "ABC"), plugin_context("spf"):
        made = record("plugin spf failed: timeout")
    assert made.context == " (vhost=reputation, instance=ABC, plugin=spf)"  # type: ignore[attr-defined]


def test_no_context_outside_a_request_and_none_when_the_line_shows_it() -> None:
    assert record("master started").context == ""  # type: ignore[attr-defined]
    with request_context("reputation", None):
        assert record("x").context == " (vhost=reputation)"  # type: ignore[attr-defined]
        assert record("x", context_shown=True).context == ""  # type: ignore[attr-defined]


def test_a_plugin_loggers_extra_fields_are_rendered() -> None:
    made = record("unreadable reply", vhost="v", plugin="ban")
    assert made.context == " (vhost=v, plugin=ban)"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("log_level", "python_level"), [("4", logging.DEBUG), ("1", logging.WARNING), ("0", logging.ERROR)]
)
def test_plugin_log_level_sets_the_level_of_its_messages(
    log_level: str, python_level: int, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = Plugin("p", CONTEXT, {"on_error": None, "log_level": log_level}, {})
    with caplog.at_level(logging.DEBUG, logger="mtpolicyd.plugin"):
        plugin.debug(Request({"instance": "i1"}, {}), "looked it up")
    [logged] = caplog.records
    assert logged.levelno == python_level
    assert logged.getMessage() == "test: looked it up"  # the original's "vhost: message"
    assert (logged.vhost, logged.instance, logged.plugin) == ("test", "i1", "p")  # type: ignore[attr-defined]
