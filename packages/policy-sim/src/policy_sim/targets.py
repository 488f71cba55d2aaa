"""Decide which address each service of a trace is sent to (trace, command line, spawned daemon)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policy_sim.endpoint import Endpoint, parse_endpoint
from policy_sim.trace.model import Trace


@dataclass(frozen=True)
class Target:
    """A daemon to drive: a label, one address for every service, and per-service addresses."""

    label: str
    default: Endpoint | None = None
    services: Mapping[str, Endpoint] | None = None

    @classmethod
    def parse(cls, text: str, label: str) -> Target:
        """``HOST:PORT`` (every service), or ``NAME=HOST:PORT[,NAME=HOST:PORT…]``."""
        if "=" not in text:
            return cls(label, default=parse_endpoint(text))
        services = {}
        for item in text.split(","):
            name, sep, address = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"bad target {text!r}: expected NAME=HOST:PORT[,NAME=HOST:PORT]")
            services[name.strip()] = parse_endpoint(address)
        return cls(label, services=services)

    def __str__(self) -> str:
        if self.services:
            return ",".join(f"{name}={address}" for name, address in self.services.items())
        return str(self.default)


def resolve_endpoints(trace: Trace, target: Target | None = None) -> dict[str, Endpoint]:
    """Address of every service the trace's stages use; ValueError lists what stays unknown."""
    names = trace.service_names()
    endpoints: dict[str, Endpoint] = {}
    missing = []
    for name in sorted(names):
        chosen = target.services.get(name) if target and target.services else None
        if chosen is None and target is not None:
            chosen = target.default
        if chosen is None and name in trace.services:
            chosen = trace.services[name].endpoint
        if chosen is None and name not in trace.services:
            chosen = parse_endpoint(name)  # the loader let it through, so it is an address
        if chosen is None:
            missing.append(name)
        else:
            endpoints[name] = chosen
    if missing:
        raise ValueError(
            f"no address for service(s) {', '.join(missing)}: give one in the trace's "
            "'services', with --service NAME=HOST:PORT, or use --spawn"
        )
    return endpoints
