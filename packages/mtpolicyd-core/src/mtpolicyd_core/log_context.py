"""Which vhost, mail and plugin a log line is about, carried by the request's task.

Each request runs in its own asyncio task, so context variables set while it
runs belong to it alone. :class:`LogContextFilter` copies them onto every log
record (``record.vhost``, ``record.instance``, ``record.plugin``, empty when
unknown) for the formatter to show.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

vhost_var: ContextVar[str] = ContextVar("mtpolicyd_vhost", default="")
instance_var: ContextVar[str] = ContextVar("mtpolicyd_instance", default="")
plugin_var: ContextVar[str] = ContextVar("mtpolicyd_plugin", default="")


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


class LogContextFilter(logging.Filter):
    """Adds ``vhost``, ``instance`` and ``plugin`` of the running request to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.vhost = vhost_var.get()
        record.instance = instance_var.get()
        record.plugin = plugin_var.get()
        return True
