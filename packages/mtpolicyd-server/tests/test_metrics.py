"""Prometheus metrics of a worker's answers, and the workers-by-state gauge of the master."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.runtime.metrics import install_metrics, metrics
from mtpolicyd_server.listeners import Address, bind_all
from mtpolicyd_server.metrics import PrometheusMetrics, WorkerStateCollector
from mtpolicyd_server.scoreboard import WorkerStatus
from mtpolicyd_server.worker import Worker

CONFIG = """<VirtualHost {port}>
  name = "test"
  <Plugin rcpt>
    module = "Condition"
    key = "protocol_state"
    match = "RCPT"
    action = "reject go away"
  </Plugin>
  <Plugin data>
    module = "Condition"
    key = "protocol_state"
    match = "DATA"
    action = "PREPEND X-Seen: yes"
  </Plugin>
</VirtualHost>
"""


@pytest.fixture
def registry() -> Iterator[prometheus_client.CollectorRegistry]:
    """PrometheusMetrics in a registry of the test's own, installed for the hooks."""
    registry = prometheus_client.CollectorRegistry()
    before = metrics()
    install_metrics(PrometheusMetrics(registry))
    yield registry
    install_metrics(before)


async def ask(port: int, state: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"request=smtpd_access_policy\nprotocol_state={state}\n\n".encode())
    answer = await reader.readuntil(b"\n\n")
    writer.close()
    return answer


async def serve_and_ask(*states: str) -> list[bytes]:
    """A worker in this loop answering one request per state, then stopped."""
    [listener] = bind_all([Address("127.0.0.1", 0)])
    engine = PolicyEngine(load_config_text(CONFIG.format(port=listener.port)))
    worker = Worker(engine, [listener], WorkerStatus())
    serving = asyncio.create_task(worker.serve())
    try:
        return [await ask(listener.port, state) for state in states]
    finally:
        worker.retire("test over", graceful=False)
        await serving
        listener.close()


async def test_answers_are_counted_by_vhost_plugin_and_action(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    answers = await serve_and_ask("RCPT", "RCPT", "DATA", "END-OF-MESSAGE")
    assert answers == [
        b"action=reject go away\n\n",
        b"action=reject go away\n\n",
        b"action=PREPEND X-Seen: yes\n\n",
        b"action=dunno\n\n",
    ]

    def requests(plugin: str, action: str) -> float | None:
        labels = {"vhost": "test", "plugin": plugin, "action": action}
        return registry.get_sample_value("mtpolicyd_requests_total", labels)

    assert requests("rcpt", "reject") == 2
    assert requests("data", "prepend") == 1
    assert requests("(none)", "dunno") == 1
    assert registry.get_sample_value("mtpolicyd_request_duration_seconds_count", {"vhost": "test"}) == 4
    # plugins run until one answers: rcpt 4 times, data for the two requests rcpt did not answer
    for plugin, runs in (("rcpt", 4), ("data", 2)):
        labels = {"vhost": "test", "plugin": plugin}
        assert registry.get_sample_value("mtpolicyd_plugin_duration_seconds_count", labels) == runs


async def test_health_probe_is_answered_without_running_a_plugin(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    [listener] = bind_all([Address("127.0.0.1", 0)])
    engine = PolicyEngine(load_config_text(CONFIG.format(port=listener.port)))
    worker = Worker(engine, [listener], WorkerStatus())
    serving = asyncio.create_task(worker.serve())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"request=mtpolicyd_health_probe\n\n")
        assert await reader.readuntil(b"\n\n") == b"action=dunno\n\n"
        writer.close()
    finally:
        worker.retire("test over", graceful=False)
        await serving
        listener.close()
    assert registry.get_sample_value("mtpolicyd_request_duration_seconds_count", {"vhost": "test"}) is None


def test_failures_lock_back_end_dns_and_reload_hooks_count(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    counted = metrics()
    assert isinstance(counted, PrometheusMetrics)
    counted.request_failed("test", "timeout")
    counted.session_lock_waited(0.001)
    counted.session_lock_failed()
    counted.backend_error("session-cache", "timeout")
    counted.dns_lookup(cache_hit=True)
    counted.dns_lookup(cache_hit=False)
    counted.dns_query_sent()
    counted.dns_failure("error")
    counted.config_reloaded(True)
    counted.config_reloaded(False)
    value = registry.get_sample_value
    assert value("mtpolicyd_request_failures_total", {"vhost": "test", "reason": "timeout"}) == 1
    assert value("mtpolicyd_session_lock_wait_seconds_count") == 1
    assert value("mtpolicyd_session_lock_failures_total") == 1
    assert value("mtpolicyd_backend_errors_total", {"backend": "session-cache", "kind": "timeout"}) == 1
    assert value("mtpolicyd_dns_lookups_total") == 2
    assert value("mtpolicyd_dns_cache_hits_total") == 1
    assert value("mtpolicyd_dns_queries_total") == 1
    assert value("mtpolicyd_dns_failures_total", {"kind": "error"}) == 1
    assert value("mtpolicyd_config_reloads_total", {"result": "success"}) == 1
    assert value("mtpolicyd_config_reloads_total", {"result": "failure"}) == 1


def test_workers_by_state_come_from_the_scoreboard_every_known_state_shown() -> None:
    states = ["idle", "busy", "idle"]
    registry = prometheus_client.CollectorRegistry()
    registry.register(WorkerStateCollector(lambda: states, ["idle", "busy", "draining"]))
    assert [
        registry.get_sample_value("mtpolicyd_workers", {"state": s}) for s in ("idle", "busy", "draining")
    ] == [
        2,
        1,
        0,
    ]
    states.pop()
    assert registry.get_sample_value("mtpolicyd_workers", {"state": "idle"}) == 1


DOCS = Path(__file__).resolve().parents[3] / "docs"


def metric_names(registry: prometheus_client.CollectorRegistry) -> set[str]:
    return {family.name for family in registry.collect()} | {"mtpolicyd_workers"}


def test_every_metric_is_documented_and_the_dashboard_asks_only_for_real_ones() -> None:
    registry = prometheus_client.CollectorRegistry()
    PrometheusMetrics(registry)
    names = metric_names(registry)
    documented = set(
        re.findall(r"^\| `(mtpolicyd_\w+?)(?:_total)?` \|", (DOCS / "metrics.md").read_text(), re.M)
    )
    assert documented == names
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    asked = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"mtpolicyd_\w+", target["expr"])
    }
    assert asked == names
