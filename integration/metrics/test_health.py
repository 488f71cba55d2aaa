"""/health answers 200 only while a worker answers the master's probe: through worker kills and stops."""

from __future__ import annotations

import os
import signal

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.ports import free_port
from integration.metrics.endpoints import health_status, samples_of, scrape
from integration.server.daemon_helpers import children, echo_config, request, wait_for

#: two workers, never killed for a missing heartbeat (the test stops them itself)
SETTINGS = (
    "min_servers = 2\nmin_spare_servers = 1\nmax_spare_servers = 2\nmax_servers = 4\n"
    "heartbeat_timeout = 0\nlog_level = 3\n"
    "health_address = 127.0.0.1:{http_port}\nmetrics_address = 127.0.0.1:{http_port}\n"
)


def test_health_follows_workers_through_kill_and_stop(python_mtpolicyd: DaemonFactory) -> None:
    http_port = free_port()
    daemon = python_mtpolicyd(echo_config("first", settings=SETTINGS), http_port=http_port)
    master = daemon.pid or 0
    wait_for(lambda: len(children(master)) == 2, 60, "two workers")
    assert health_status(http_port) == 200

    victims = children(master)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    for pid in victims:
        daemon.wait_for_log(f"worker {pid} killed by signal 9", timeout=60)
    wait_for(lambda: len(children(master) - victims) == 2, 60, "two replacement workers")
    wait_for(lambda: health_status(http_port) == 200, 60, "/health answered by a replacement")
    scraped = scrape(http_port)
    states = {labels["state"]: value for labels, value in samples_of(scraped, "mtpolicyd_workers")}
    assert sum(states.values()) == 2

    stopped = children(master)
    try:
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        assert health_status(http_port) == 503  # no worker can answer the probe
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: health_status(http_port) == 200, 60, "/health once the workers run again")
    assert children(master) == stopped  # the same workers answer: none was replaced meanwhile


def test_health_and_metrics_are_off_by_default(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(echo_config("first", settings="log_level = 3\n"))
    assert daemon.request(request("192.0.2.1")) == ["action=reject first 192.0.2.1"]
    log = daemon.wait_for_log("first: instance=1")  # the master set up its endpoints before this
    assert "serving /" not in log
