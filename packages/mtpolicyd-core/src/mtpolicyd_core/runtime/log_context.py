"""Which vhost, mail and plugin a log line is about, carried by the request's task.

Each request runs in its own asyncio task, so context variables set while it
runs belong to it alone. :class:`LogContextFilter` copies them onto every log
record (``record.vhost``, ``record.instance``, ``record.plugin``, empty when
unknown) and renders the known ones as ``record.context`` (``" (vhost=…,
instance=…, plugin=…)"``) for the formatter to append. Lines that already name
them in the original's wording (the request line) pass ``extra={"context_shown": True}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Python has no notice level: one between INFO and WARNING, as Net::Server's level 2
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
#: Net::Server log level (0 err … 4 debug) → Python logging level
NET_SERVER_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: NOTICE, 3: logging.INFO, 4: logging.DEBUG}

vhost_var: ContextVar[str] = ContextVar("mtpolicyd_vhost", default="")
instance_var: ContextVar[str] = ContextVar("mtpolicyd_instance", default="")
plugin_var: ContextVar[str] = ContextVar("mtpolicyd_plugin", default="")

_FIELDS = ("vhost", "instance", "plugin")


def python_level(log_level: int) -> int:
    """The Python logging level for a Net::Server ``log_level`` (clamped to 0-4)."""
    return NET_SERVER_LEVELS[min(max(log_level, 0), 4)]


@contextmanager
def request_context(vhost: str, instance: str | None) -> Iterator[None]:
    """Log lines written inside are about this vhost and mail."""
    vhost_token = vhost_var.set(vhost)
    instance_token = instance_var.set(instance or "")
    try:
        yield
    finally:
        instance_var.reset(instance_token)
        vhost_var.reset(vhost_token)


@contextmanager
def plugin_context(plugin: str) -> Iterator[None]:
    """Log lines written inside are about this plugin."""
    token = plugin_var.set(plugin)
    try:
        yield
    finally:
        plugin_var.reset(token)


def context_suffix(vhost: str, instance: str, plugin: str) -> str:
    """``" (vhost=…, instance=…, plugin=…)"`` with the known fields only; empty when none is known."""
    values = (vhost, instance, plugin)
    known = [f"{name}={value}" for name, value in zip(_FIELDS, values, strict=True) if value]
    return f" ({', '.join(known)})" if known else ""


class LogContextFilter(logging.Filter):
    """Adds ``vhost``, ``instance``, ``plugin`` and the rendered ``context`` to each record.

    The running request's context variables win; a logger's own ``extra`` fields
    (a plugin's vhost and name outside a request) fill what they leave empty.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        vhost = vhost_var.get() or getattr(record, "vhost", "") or ""
        instance = instance_var.get() or getattr(record, "instance", "") or ""
        plugin = plugin_var.get() or getattr(record, "plugin", "") or ""
        record.vhost, record.instance, record.plugin = vhost, instance, plugin
        shown = getattr(record, "context_shown", False)
        record.context = "" if shown else context_suffix(vhost, instance, plugin)
        return True
