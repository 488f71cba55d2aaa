"""Decide where each service of a trace is sent: the trace, the command line, a spawned daemon, a fleet."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from policy_sim.endpoint import Endpoint, parse_endpoint
from policy_sim.fleet import SINGLE_HOST, FleetHost
from policy_sim.trace.model import Host, Trace


@dataclass(frozen=True)
class Target:
    """A daemon to drive: a label, one address for every service, and per-service addresses.

    ``named`` tells whether the label came from the command line (a fleet host's name).
    """

    label: str
    default: Endpoint | None = None
    services: Mapping[str, Endpoint] | None = None
    named: bool = False

    @classmethod
    def parse(cls, text: str, label: str, service_names: Collection[str] = ()) -> Target:
        """``HOST:PORT`` (every service), ``SERVICE=HOST:PORT[,…]``, or either after ``NAME=`` to name a
        host of a fleet; ``X=…`` names a service when the trace has one called X, else a host."""
        name, sep, rest = text.partition("=")
        name = name.strip()
        names_a_host = bool(sep and name) and name not in service_names and ("=" in rest or "," not in rest)
        if names_a_host:  # NAME=HOST:PORT or NAME=SERVICE=HOST:PORT,…
            return cls._addresses(rest, name, named=True)
        return cls._addresses(text, label)

    @classmethod
    def _addresses(cls, text: str, label: str, named: bool = False) -> Target:
        if "=" not in text:
            return cls(label, default=parse_endpoint(text), named=named)
        services = {}
        for item in text.split(","):
            name, sep, address = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"bad target {text!r}: expected SERVICE=HOST:PORT[,SERVICE=HOST:PORT]")
            services[name.strip()] = parse_endpoint(address)
        return cls(label, services=services, named=named)

    def __str__(self) -> str:
        if self.services:
            return ",".join(f"{name}={address}" for name, address in self.services.items())
        return str(self.default)


def resolve_endpoints(
    trace: Trace, target: Target | None = None, host: Host | None = None
) -> dict[str, Endpoint]:
    """Address of every service the trace's stages use; ValueError lists what stays unknown.

    The target (command line) comes first, then the fleet host's addresses, then the trace's services.
    """
    endpoints: dict[str, Endpoint] = {}
    missing = []
    host_services = dict(host.services) if host else {}
    for name in sorted(trace.service_names()):
        chosen = target.services.get(name) if target and target.services else None
        if chosen is None and target is not None:
            chosen = target.default
        if chosen is None and host is not None:
            chosen = host_services.get(name, host.address)
        elif chosen is None and name in trace.services:
            chosen = trace.services[name].endpoint
        if chosen is None and name not in trace.services and host is None:
            chosen = parse_endpoint(name)  # the loader let it through, so it is an address
        if chosen is None:
            missing.append(name)
        else:
            endpoints[name] = chosen
    if missing:
        where = f" on host {host.name}" if host else ""
        remedy = f"--target {host.name}=HOST:PORT" if host else "--service NAME=HOST:PORT"
        raise ValueError(
            f"no address for service(s) {', '.join(missing)}{where}: give one in the trace, with {remedy}, "
            "or use --spawn"
        )
    return endpoints


def resolve_fleet(trace: Trace, targets: Sequence[Target]) -> list[FleetHost]:
    """The hosts to drive: the trace's fleet (targets name its hosts), or one host per target."""
    if trace.hosts:
        by_name = {target.label: target for target in targets}
        unnamed = [str(target) for target in targets if not target.named]
        unknown = sorted(set(by_name) - set(trace.hosts))
        if unnamed or unknown:
            raise ValueError(
                f"the trace's hosts are {', '.join(trace.hosts)}: name them, e.g. --target "
                f"{next(iter(trace.hosts))}=HOST:PORT (not {', '.join(unnamed + unknown)})"
            )
        return [
            FleetHost(name, resolve_endpoints(trace, by_name.get(name), host))
            for name, host in trace.hosts.items()
        ]
    if not targets:
        return [FleetHost(SINGLE_HOST, resolve_endpoints(trace))]
    labels = [target.label for target in targets]
    if len(set(labels)) != len(labels):
        labels = [f"{label}{number}" for number, label in enumerate(labels, 1)]
    return [
        FleetHost(label, resolve_endpoints(trace, target))
        for label, target in zip(labels, targets, strict=True)
    ]
