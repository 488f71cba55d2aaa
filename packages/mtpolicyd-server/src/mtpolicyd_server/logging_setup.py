"""Logging as the original does it: Net::Server levels 0-4, stdout in the foreground, else syslog.

``log_level`` 0 err, 1 warning, 2 notice, 3 info, 4 debug. Python has no
notice level, so one is added between INFO and WARNING. Every message is
escaped like the original's (``\\n``, ``\\r``, ``\\0``, ``\\\\`` and other
control bytes), so one log call is one log line, whatever a client sent.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: Net::Server log level → Python logging level
LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: NOTICE, 3: logging.INFO, 4: logging.DEBUG}
SYSLOG_SOCKET = "/dev/log"
SYSLOG_TARGET = "Sys::Syslog"

_ESCAPES = {"\0": "\\0", "\r": "\\r", "\n": "\\n", "\\": "\\\\"}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\\]|[\udc80-\udcff]")


def python_level(log_level: int) -> int:
    """The Python logging level for a Net::Server ``log_level`` (clamped to 0-4)."""
    return LEVELS[min(max(log_level, 0), 4)]


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
        return escape(super().format(record))


class SyslogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler that knows the notice level."""

    priority_map = {**logging.handlers.SysLogHandler.priority_map, "NOTICE": "notice"}


def _handler(foreground: bool, log_file: str | None, ident: str, facility: str) -> logging.Handler:
    tagged = f"{ident}[%(process)d]: %(message)s"
    handler: logging.Handler
    if log_file and log_file != SYSLOG_TARGET:
        handler = logging.FileHandler(log_file)
    elif foreground and not log_file:
        handler = logging.StreamHandler(sys.stdout)
    elif os.path.exists(SYSLOG_SOCKET):
        facility_code = SyslogHandler.facility_names.get(facility, SyslogHandler.LOG_MAIL)
        handler = SyslogHandler(SYSLOG_SOCKET, facility=facility_code)
        handler.setFormatter(EscapingFormatter(tagged))
        return handler
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s " + tagged))
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
