"""Net::Server log levels and one-line escaping."""

from __future__ import annotations

import logging

import pytest
from mtpolicyd_server.logging_setup import NOTICE, EscapingFormatter, SyslogHandler, escape, python_level


@pytest.mark.parametrize(("level", "expected"), [
    (0, logging.ERROR), (1, logging.WARNING), (2, NOTICE), (3, logging.INFO), (4, logging.DEBUG),
    (9, logging.DEBUG),
])
def test_net_server_levels_map_onto_python_levels(level: int, expected: int) -> None:
    assert python_level(level) == expected


def test_notice_sits_between_info_and_warning() -> None:
    assert logging.INFO < NOTICE < logging.WARNING
    assert SyslogHandler.priority_map["NOTICE"] == "notice"


def test_control_characters_are_escaped_like_the_original() -> None:
    assert escape("a\nb\rc\0d\\e\x01\x7f") == "a\\nb\\rc\\0d\\\\e\\x01\\x7F"


def test_undecodable_bytes_are_shown_as_hex() -> None:
    assert escape(b"caf\xe9".decode("utf-8", "surrogateescape")) == "caf\\xE9"


def test_formatter_puts_a_multi_line_message_on_one_line() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sender=%s", ("a\nb",), None)
    assert EscapingFormatter("%(message)s").format(record) == "sender=a\\nb"
