"""Net::Server log levels and one-line escaping."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

import pytest
from mtpolicyd_server import logging_setup
from mtpolicyd_server.logging_setup import NOTICE, EscapingFormatter, SyslogHandler, escape, python_level


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (0, logging.ERROR),
        (1, logging.WARNING),
        (2, NOTICE),
        (3, logging.INFO),
        (4, logging.DEBUG),
        (9, logging.DEBUG),
    ],
)
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


def test_without_syslog_socket_logs_go_to_stderr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(logging_setup, "SYSLOG_SOCKET", str(tmp_path / "no-such-socket"))
    handler = logging_setup._handler(foreground=False, log_file=None, ident="mtpolicyd", facility="mail")
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr


def test_log_file_wins_over_syslog(tmp_path: Path) -> None:
    log_file = str(tmp_path / "log")
    handler = logging_setup._handler(foreground=False, log_file=log_file, ident="x", facility="mail")
    assert isinstance(handler, logging.FileHandler)
    handler.close()


def test_foreground_logs_to_stdout() -> None:
    handler = logging_setup._handler(foreground=True, log_file=None, ident="x", facility="mail")
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stdout


def test_syslog_gets_mail_facility_notice_priority_and_ident(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = str(tmp_path / "log")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(address)
        monkeypatch.setattr(logging_setup, "SYSLOG_SOCKET", address)
        handler = logging_setup._handler(foreground=False, log_file=None, ident="mtpolicyd", facility="mail")
        handler.emit(logging.LogRecord("x", NOTICE, __file__, 1, "master started", (), None))
        handler.close()
        message = syslog.recv(4096).decode()
    assert message == f"<21>mtpolicyd[{os.getpid()}]: master started\x00"  # mail (2) * 8 + notice (5)
