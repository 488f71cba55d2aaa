"""Logging as the original does it: Net::Server levels 0-4, stdout in the foreground, else syslog.

``log_level`` 0 err, 1 warning, 2 notice, 3 info, 4 debug. Python has no
notice level, so one is added between INFO and WARNING. Every message is
escaped like the original's (``\\n``, ``\\r``, ``\\0``, ``\\\\`` and other
control bytes), so one log call is one log line, whatever a client sent.
A line written while a request runs ends with its vhost, instance and plugin
(:mod:`mtpolicyd_core.runtime.log_context`). ``log_file`` is reopened when it was moved
(logrotate) and on HUP.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys

from mtpolicyd_core.runtime.log_context import NOTICE, LogContextFilter, python_level

__all__ = [
    "NOTICE",
    "EscapingFormatter",
    "SyslogHandler",
    "escape",
    "python_level",
    "reopen_log_files",
    "setup_logging",
]

SYSLOG_SOCKET = "/dev/log"
SYSLOG_TARGET = "Sys::Syslog"

_ESCAPES = {"\0": "\\0", "\r": "\\r", "\n": "\\n", "\\": "\\\\"}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\\]|[\udc80-\udcff]")


def escape(message: str) -> str:
    """Control characters and undecodable bytes made visible, as the original's log does."""

    def visible(match: re.Match[str]) -> str:
        char = match[0]
        if char in _ESCAPES:
            return _ESCAPES[char]
        code = ord(char) - 0xDC00 if ord(char) >= 0xDC80 else ord(char)
        return f"\\x{code:02X}"

    return _UNPRINTABLE.sub(visible, message)


class EscapingFormatter(logging.Formatter):
    """Formats a record, then escapes it onto one line."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "context"):  # a handler without LogContextFilter
            record.context = ""
        return escape(super().format(record))


class SyslogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler that knows the notice level."""

    priority_map = {**logging.handlers.SysLogHandler.priority_map, "NOTICE": "notice"}


def _handler(foreground: bool, log_file: str | None, ident: str, facility: str) -> logging.Handler:
    tagged = f"{ident}[%(process)d]: %(message)s%(context)s"
    handler: logging.Handler
    if log_file and log_file != SYSLOG_TARGET:
        handler = logging.handlers.WatchedFileHandler(log_file)
    elif foreground and not log_file:
        handler = logging.StreamHandler(sys.stdout)
    elif os.path.exists(SYSLOG_SOCKET):
        facility_code = SyslogHandler.facility_names.get(facility, SyslogHandler.LOG_MAIL)
        handler = SyslogHandler(SYSLOG_SOCKET, facility=facility_code)
        handler.setFormatter(EscapingFormatter(tagged))
        handler.addFilter(LogContextFilter())
        return handler
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s " + tagged))
    handler.addFilter(LogContextFilter())
    return handler


def setup_logging(
    log_level: int,
    foreground: bool,
    log_file: str | None = None,
    ident: str = "mtpolicyd",
    facility: str = "mail",
) -> None:
    """Route the ``mtpolicyd`` loggers: stdout with ``-f``, a file, or syslog (stderr without /dev/log)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(_handler(foreground, log_file, ident, facility))
    root.setLevel(python_level(log_level))


def reopen_log_files() -> None:
    """Reopen ``log_file`` if it was moved or removed (logrotate's postrotate sends HUP)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.handlers.WatchedFileHandler):
            handler.reopenIfNeeded()
