"""From the command line to the hosts a replay or load drives: addresses given, or daemons spawned."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from policy_sim.client import ClientSettings
from policy_sim.endpoint import parse_endpoint
from policy_sim.exit_status import UsageError
from policy_sim.fleet import SINGLE_HOST, FleetHost
from policy_sim.spawn import SpawnedDaemons
from policy_sim.targets import Target, resolve_fleet
from policy_sim.trace import Trace, TraceError, load_trace


def client_settings(args: argparse.Namespace) -> ClientSettings:
    """Postfix's ``smtpd_policy_service_*`` behaviour from the options."""
    return ClientSettings(
        reuse_limit=args.reuse_limit,
        max_idle=args.max_idle,
        max_ttl=args.max_ttl,
        timeout=args.timeout,
        try_limit=max(1, args.try_limit),
        retry_delay=args.retry_delay,
    )


def read_trace(path: str) -> Trace:
    """The trace file; a bad one is a usage error naming file, line and column."""
    try:
        return load_trace(path)
    except TraceError as error:
        raise UsageError(str(error)) from None


def parse_targets(specs: list[str], label: str, trace: Trace) -> list[Target]:
    """``--target``/``--baseline`` specs, read against the trace's service names."""
    try:
        return [Target.parse(spec, label, trace.service_names()) for spec in specs]
    except ValueError as error:
        raise UsageError(str(error)) from None


def command_line_targets(args: argparse.Namespace, trace: Trace) -> list[Target]:
    """The ``--target`` specs, or the ``--service`` addresses as one target."""
    targets = parse_targets(args.target, "target", trace)
    if args.service:
        if targets:
            raise UsageError("give the addresses either with --service or with --target, not both")
        try:
            services = {name: parse_endpoint(address) for name, address in args.service if address}
        except ValueError as error:
            raise UsageError(str(error)) from None
        targets = [Target("target", services=services)]
    return targets


def fleet_for(
    trace: Trace,
    stack: contextlib.ExitStack,
    targets: list[Target],
    spawn_config: str | None = None,
    command: str | None = None,
    label: str = SINGLE_HOST,
) -> tuple[list[FleetHost], list[Path]]:
    """The hosts to drive and the daemon logs to scan: with ``spawn_config`` one daemon per host of
    the trace (or one) running ``command``, else the given targets matched to the trace."""
    logs: list[Path] = []
    if spawn_config and targets:
        raise UsageError("--spawn starts its own daemons: leave out --target and --service")
    if spawn_config:
        names = list(trace.hosts) or [label]
        spawned = stack.enter_context(SpawnedDaemons(spawn_config, command, names))
        targets = [spawned.target_for(trace, name, name, named=bool(trace.hosts)) for name in names]
        logs = spawned.log_paths
        for name, target in zip(names, targets, strict=True):
            log = spawned.daemons[name].log_path
            print(f"policy-sim: spawned {spawned.name} as {name} ({target}); log {log}", file=sys.stderr)
    try:
        return resolve_fleet(trace, targets), logs
    except ValueError as error:
        raise UsageError(str(error)) from None
