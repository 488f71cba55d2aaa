"""Metrics scraped after a policy-sim load run count, per action, what policy-sim counted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from policy_sim.cli import main
from policy_sim.generate import GeneratorSettings, generate_document
from policy_sim.trace.writer import write_document

from integration.fixtures.config_text import (
    DATA_SCORE,
    RCPT_SCORE,
    SHOW_SCORE,
    block,
    plugin,
    session_cache,
    vhost,
    workers,
)
from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.ports import free_port
from integration.metrics.endpoints import samples_of, scrape
from integration.sim.test_replay_invariants import STAGES

#: sessions in memcached (lock waits counted); answers of three verbs: dunno, reject, prepend
CONFIG = (
    "metrics_address = 127.0.0.1:{metrics_port}\n"
    + workers(4, 12, spares=(1, 8))
    + block("Connection", "memcached", "", module="Memcached", servers="{memcached}", namespace="metrics-")
    + session_cache("Memcached")
    + vhost(
        "port",
        "reputation",
        RCPT_SCORE,
        plugin(
            "odd-client",
            module="Condition",
            key="client_address",
            re_match="[13579]$",
            action="reject odd client",
        ),
        plugin(
            "end-of-message",
            module="Condition",
            key="protocol_state",
            match="END-OF-MESSAGE",
            action="PREPEND X-Sim: checked",
        ),
        SHOW_SCORE,
    )
    + vhost("port2", "accounting", DATA_SCORE)
)


def test_requests_by_action_in_metrics_equal_policy_sims_counts(
    python_mtpolicyd: Callable[..., MtpolicydDaemon], memcached_server: MemcachedServer, tmp_path: Path
) -> None:
    metrics_port = free_port()
    daemon = python_mtpolicyd(CONFIG, memcached=memcached_server.address, metrics_port=metrics_port)
    reputation, accounting = daemon.ports
    trace = tmp_path / "trace.yaml"
    settings = GeneratorSettings(
        mails=300, seed=5, services={"reputation": "", "accounting": ""}, stages=STAGES
    )
    write_document(generate_document(settings), str(trace))
    report_path = tmp_path / "load.json"

    status = main(
        [
            "load",
            str(trace),
            "--target",
            f"reputation={daemon.host}:{reputation},accounting={daemon.host}:{accounting}",
            "--duration",
            "3",
            "--concurrency",
            "8",
            "--report-json",
            str(report_path),
            "--report-html",
            str(tmp_path / "load.html"),
            "-q",
        ]
    )

    assert status == 0
    [run] = json.loads(report_path.read_text())["results"]
    assert run["errors"]["unanswered"] == 0
    reported = run["actions"]
    assert {"dunno", "reject", "prepend"} <= set(reported), reported
    scraped = scrape(metrics_port)
    by_action: Counter[str] = Counter()
    by_vhost: Counter[str] = Counter()
    for labels, value in samples_of(scraped, "mtpolicyd_requests_total"):
        by_action[labels["action"]] += int(value)
        by_vhost[labels["vhost"]] += int(value)
    assert dict(by_action) == reported
    assert sum(by_vhost.values()) == run["requests"]
    # the whole-request histogram counts every answer once, per vhost
    histogram = {
        labels["vhost"]: int(value)
        for labels, value in samples_of(scraped, "mtpolicyd_request_duration_seconds_count")
    }
    assert histogram == dict(by_vhost)
    # every request with an instance took its session lock once
    assert scraped[("mtpolicyd_session_lock_wait_seconds_count", frozenset())] == run["requests"]
    assert scraped[("mtpolicyd_session_lock_failures_total", frozenset())] == 0
    plugins = {
        labels["plugin"] for labels, _ in samples_of(scraped, "mtpolicyd_plugin_duration_seconds_count")
    }
    assert plugins == {"rcpt-score", "odd-client", "end-of-message", "show-score", "data-score"}
    states = {labels["state"]: value for labels, value in samples_of(scraped, "mtpolicyd_workers")}
    assert sum(states.values()) >= 4
