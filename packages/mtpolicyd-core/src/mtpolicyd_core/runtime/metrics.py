"""The hooks the engine calls to count what it does; nothing happens unless the server installs metrics.

The core knows no metrics library: :class:`Metrics` is the interface, its methods do nothing.
``mtpolicyd_server.metrics`` installs a subclass backed by prometheus-client when
``metrics_address`` is configured (docs/decisions/0013-metrics.md). Callers that must time
something check :attr:`Metrics.enabled` first, so metrics off cost one attribute read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

#: an answer without action lines is sent as ``dunno``
NO_ACTION = "dunno"


class Metrics:
    """Metrics switched off: every hook does nothing."""

    enabled = False

    def request_answered(self, vhost: str, plugin: str, action: str, seconds: float) -> None:
        """A request of ``vhost`` was answered ``action`` (its verb) after ``plugin`` matched."""

    def request_failed(self, vhost: str, reason: str) -> None:
        """A request was not answered: ``timeout``, ``failed`` (a plugin or the session) or ``error``."""

    def plugin_ran(self, vhost: str, plugin: str, seconds: float) -> None:
        """One plugin of ``vhost`` ran for ``seconds`` (failing or not)."""

    def session_lock_waited(self, seconds: float) -> None:
        """The session lock of a mail was taken after ``seconds``."""

    def session_lock_failed(self) -> None:
        """The session lock could not be taken within the retries (or the in-worker wait)."""

    def backend_error(self, backend: str, kind: str) -> None:
        """Back-end ``backend`` (``session-cache`` or a connection's name) failed: ``timeout``/``error``."""

    def dns_lookup(self, cache_hit: bool) -> None:
        """A DNS look-up was asked for; answered from the cache or not."""

    def dns_query_sent(self) -> None:
        """A look-up went to the name servers (not cached, not joined to one in flight)."""

    def dns_failure(self, kind: str) -> None:
        """A DNS look-up ended without an answer: ``timeout`` or ``error``."""


class _Installed:
    """The registry of the one Metrics object of this process."""

    current: Metrics = Metrics()


def metrics() -> Metrics:
    """The metrics of this process (doing nothing unless the server installed some)."""
    return _Installed.current


def install_metrics(installed: Metrics) -> None:
    """Make ``installed`` the metrics every hook reports to."""
    _Installed.current = installed


def action_word(actions: list[str]) -> str:
    """The verb of the first action line, lower-cased (``reject``, ``prepend``, ``554``), as policy-sim
    counts answers; ``dunno`` for an empty answer."""
    words = actions[0].split(None, 1) if actions else []
    return words[0].lower() if words else NO_ACTION


def error_kind(error: BaseException) -> str:
    """``timeout`` for a timeout of any client library, else ``error``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return "timeout"
        seen = seen.__cause__
    return "error"


@contextmanager
def timed_plugin(vhost: str, plugin: str) -> Iterator[None]:
    """Report how long the block took as ``plugin``'s run time, when metrics are on."""
    current = _Installed.current
    if not current.enabled:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        current.plugin_ran(vhost, plugin, time.perf_counter() - started)
