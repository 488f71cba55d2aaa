"""Where the trace's services are sent: --target forms, and a fleet's hosts matched by name."""

from __future__ import annotations

import pytest
from policy_sim.endpoint import Endpoint
from policy_sim.fleet import FleetHost
from policy_sim.targets import Target, resolve_fleet
from policy_sim.trace import parse_trace

A, B = Endpoint("127.0.0.1", 1), Endpoint("127.0.0.1", 2)
PLAIN = parse_trace(
    "services: {policy: 127.0.0.1:9}\n"
    "mails:\n  - {client_address: x, recipients: [a], stages: [{state: RCPT}]}\n",
    "plain.yaml",
)
FLEET = parse_trace(
    "version: 2\nservices: {policy: ''}\nhosts: {mx-a: '127.0.0.1:1', mx-b: ''}\n"
    "mails:\n  - {client_address: x, recipients: [a], stages: [{state: RCPT}]}\n",
    "fleet.yaml",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:1", Target("t", default=A)),
        ("policy=127.0.0.1:1", Target("t", services={"policy": A})),
        ("mx-a=127.0.0.1:1", Target("mx-a", default=A, named=True)),
        (
            "mx-a=policy=127.0.0.1:1,other=127.0.0.1:2",
            Target("mx-a", services={"policy": A, "other": B}, named=True),
        ),
    ],
)
def test_target_forms(text: str, expected: Target) -> None:
    assert Target.parse(text, "t", {"policy"}) == expected


def test_a_bad_target_address_is_refused() -> None:
    with pytest.raises(ValueError, match="bad address"):
        Target.parse("mx-a=nowhere", "t", {"policy"})


def test_several_targets_make_a_fleet_of_their_labels() -> None:
    fleet = resolve_fleet(PLAIN, [Target.parse("a=127.0.0.1:1", "t"), Target.parse("127.0.0.1:2", "target")])
    assert fleet == [FleetHost("a", {"policy": A}), FleetHost("target", {"policy": B})]


def test_without_targets_the_trace_addresses_make_one_host() -> None:
    assert resolve_fleet(PLAIN, []) == [FleetHost("target", {"policy": Endpoint("127.0.0.1", 9)})]


def test_fleet_trace_hosts_take_their_addresses_from_the_trace_or_the_command_line() -> None:
    fleet = resolve_fleet(FLEET, [Target.parse("mx-b=127.0.0.1:2", "t", {"policy"})])
    assert fleet == [FleetHost("mx-a", {"policy": A}), FleetHost("mx-b", {"policy": B})]


def test_fleet_host_without_address_is_an_error_naming_it() -> None:
    with pytest.raises(
        ValueError, match=r"no address for service\(s\) policy on host mx-b: .*--target mx-b="
    ):
        resolve_fleet(FLEET, [])


@pytest.mark.parametrize("spec", ["127.0.0.1:2", "mx-c=127.0.0.1:2"])
def test_targets_of_a_fleet_trace_must_name_its_hosts(spec: str) -> None:
    with pytest.raises(ValueError, match="the trace's hosts are mx-a, mx-b"):
        resolve_fleet(FLEET, [Target.parse(spec, "target", {"policy"})])
