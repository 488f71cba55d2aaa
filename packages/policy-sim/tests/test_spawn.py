"""--spawn's reading of a config's vhosts and matching them to trace services."""

from __future__ import annotations

import pytest
from policy_sim.endpoint import Endpoint
from policy_sim.spawn import SpawnedDaemon, SpawnError, vhost_ports
from policy_sim.trace import parse_trace

CONFIG = """\
port="127.0.0.1:4001,127.0.0.1:4002"
<VirtualHost 4001>
  name = "reputation"
  <Plugin a>
    module = "Action"
    name = "not-the-vhost"
  </Plugin>
</VirtualHost>
<VirtualHost "4002">
  name accounting
</VirtualHost>
"""


def test_vhost_ports_reads_names_and_ports() -> None:
    assert vhost_ports(CONFIG) == {"reputation": 4001, "accounting": 4002}


def spawned_with(config: str, tmp_path: object) -> SpawnedDaemon:
    daemon = SpawnedDaemon("unused.conf")

    class Running:
        config_path = daemon.workdir / "d.conf"

    Running.config_path.write_text(config)
    daemon.daemon = Running()
    return daemon


def test_trace_services_are_matched_to_vhosts_by_name(tmp_path: object) -> None:
    trace = parse_trace(
        "mails:\n  - client_address: x\n    recipients: [a]\n    stages:\n"
        "      - {state: RCPT, service: reputation}\n      - {state: DATA, service: accounting}\n"
        "services: {reputation: '', accounting: ''}\n",
        "t.yaml",
    )
    target = spawned_with(CONFIG, tmp_path).target_for(trace)
    assert target.services == {
        "reputation": Endpoint("127.0.0.1", 4001),
        "accounting": Endpoint("127.0.0.1", 4002),
    }


def test_unmatched_service_is_an_error_listing_the_vhosts(tmp_path: object) -> None:
    trace = parse_trace(
        "services: {other: ''}\nmails:\n  - client_address: x\n    recipients: [a]\n"
        "    stages: [{state: RCPT, service: other}]\n",
        "t.yaml",
    )
    with pytest.raises(SpawnError, match="reputation=4001"):
        spawned_with(CONFIG, tmp_path).target_for(trace)
