"""Prometheus metrics across the pre-forked workers (prometheus-client in multi-process mode).

Only imported when ``metrics_address`` is configured: prometheus-client is an extra
(``mtpolicyd-server[metrics]``) and stays out of the workers otherwise. The master makes a
private directory, points ``PROMETHEUS_MULTIPROC_DIR`` at it *before* prometheus-client is
imported, and creates the metric objects; the forked workers inherit them and write their
own files there. The master's HTTP endpoint sums the files of every process, dead workers'
included (counters never go back). Workers by state come from the master's scoreboard at
scrape time. See docs/metrics.md and docs/decisions/0013-metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from mtpolicyd_core.runtime.metrics import Metrics
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

#: seconds: requests and plugins of a policy daemon take milliseconds; Postfix gives up after 100 s
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: seconds to take a session lock: usually at once, the original's retries add up to about 60 ms
LOCK_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 10.0)


class PrometheusMetrics(Metrics):
    """The engine's and the server's hooks, counted in prometheus-client objects of ``registry``."""

    enabled = True

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # in multi-process mode the objects are not registered: the master's collector reads the files
        self.requests = Counter(
            "mtpolicyd_requests",
            "Requests answered, by vhost, the plugin whose result ended the chain, and action verb",
            ["vhost", "plugin", "action"],
            registry=registry,
        )
        self.request_failures = Counter(
            "mtpolicyd_request_failures",
            "Requests not answered (connection closed): timeout, failed (plugin or session) or error",
            ["vhost", "reason"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "mtpolicyd_request_duration_seconds",
            "Time from a request's admission to its answer, by vhost",
            ["vhost"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.plugin_seconds = Histogram(
            "mtpolicyd_plugin_duration_seconds",
            "Run time of one plugin for one request, by vhost and plugin",
            ["vhost", "plugin"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.lock_wait_seconds = Histogram(
            "mtpolicyd_session_lock_wait_seconds",
            "Time to take a mail's session lock (in the worker, then in the back-end)",
            buckets=LOCK_BUCKETS,
            registry=registry,
        )
        self.lock_failures = Counter(
            "mtpolicyd_session_lock_failures", "Session locks not had within the retries", registry=registry
        )
        self.backend_errors = Counter(
            "mtpolicyd_backend_errors",
            "Failures of a back-end (session-cache or a connection's name): timeout or error",
            ["backend", "kind"],
            registry=registry,
        )
        self.dns_lookups = Counter(
            "mtpolicyd_dns_lookups", "DNS look-ups asked of a worker's stub resolver", registry=registry
        )
        self.dns_cache_hits = Counter(
            "mtpolicyd_dns_cache_hits", "DNS look-ups answered from the worker's cache", registry=registry
        )
        self.dns_queries = Counter(
            "mtpolicyd_dns_queries", "DNS look-ups sent to the name servers", registry=registry
        )
        self.dns_failures = Counter(
            "mtpolicyd_dns_failures",
            "DNS look-ups without an answer: timeout or error",
            ["kind"],
            registry=registry,
        )
        self.config_reloads = Counter(
            "mtpolicyd_config_reloads",
            "Configuration reloads (HUP): success or failure",
            ["result"],
            registry=registry,
        )

    def request_answered(self, vhost: str, plugin: str, action: str, seconds: float) -> None:
        self.requests.labels(vhost, plugin, action).inc()
        self.request_seconds.labels(vhost).observe(seconds)

    def request_failed(self, vhost: str, reason: str) -> None:
        self.request_failures.labels(vhost, reason).inc()

    def plugin_ran(self, vhost: str, plugin: str, seconds: float) -> None:
        self.plugin_seconds.labels(vhost, plugin).observe(seconds)

    def session_lock_waited(self, seconds: float) -> None:
        self.lock_wait_seconds.observe(seconds)

    def session_lock_failed(self) -> None:
        self.lock_failures.inc()

    def backend_error(self, backend: str, kind: str) -> None:
        self.backend_errors.labels(backend, kind).inc()

    def dns_lookup(self, cache_hit: bool) -> None:
        self.dns_lookups.inc()
        if cache_hit:
            self.dns_cache_hits.inc()

    def dns_query_sent(self) -> None:
        self.dns_queries.inc()

    def dns_failure(self, kind: str) -> None:
        self.dns_failures.labels(kind).inc()

    def config_reloaded(self, succeeded: bool) -> None:
        """The master reloaded its configuration, or kept the old one."""
        self.config_reloads.labels("success" if succeeded else "failure").inc()


class WorkerStateCollector:
    """``mtpolicyd_workers{state}`` from the master's scoreboard, read at scrape time."""

    def __init__(self, states: Callable[[], Iterable[str]], known: Iterable[str]) -> None:
        self.states = states
        self.known = tuple(known)

    def collect(self) -> Iterator[Metric]:
        counts = dict.fromkeys(self.known, 0)
        for state in self.states():
            counts[state] = counts.get(state, 0) + 1
        family = GaugeMetricFamily("mtpolicyd_workers", "Worker processes by state", labels=["state"])
        for state, count in counts.items():
            family.add_metric([state], count)
        yield family


def process_dead(pid: int, path: str) -> None:
    """Forget a reaped worker's live gauges (its counters stay: totals must not go back)."""
    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def scrape_registry(path: str, workers: WorkerStateCollector) -> CollectorRegistry:
    """What /metrics shows: the files of every process in ``path``, summed, and the workers by state."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    registry.register(workers)
    return registry
