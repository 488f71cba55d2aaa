"""The ``policy-sim`` command: send, generate, import-maillog, replay, load."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import secrets
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from policy_sim import __version__
from policy_sim.anonymise import Pseudonymiser
from policy_sim.checks import check_outcomes, lock_failures
from policy_sim.client import ClientSettings
from policy_sim.endpoint import parse_endpoint
from policy_sim.generate import DEFAULT_STAGES, GeneratorSettings, StageSpec, generate_document
from policy_sim.load import LoadSettings, run_load
from policy_sim.maillog import import_maillog, sample_maillog
from policy_sim.plot import render_html
from policy_sim.progress import Progress
from policy_sim.replay import replay
from policy_sim.report import build_report, load_failures, summary_text
from policy_sim.send import PolicyClient, complete_request, dump, read_request_blocks
from policy_sim.services import ServiceError
from policy_sim.spawn import SpawnedDaemons
from policy_sim.stats import RunStats
from policy_sim.targets import Target, resolve_endpoints
from policy_sim.trace import Trace, TraceError, load_trace
from policy_sim.trace.loader import parse_trace
from policy_sim.trace.writer import dump_document, write_document

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Drive a Postfix policy daemon (such as mtpolicyd) the way Postfix's smtpd does.

  send            one request from name=value arguments or standard input
  generate        a seeded synthetic trace of mails
  import-maillog  a trace from a real Postfix mail log (optionally anonymised)
  replay          send a trace; compare answers with its expectations; --check invariants
  load            closed- or open-loop load for a duration; JSON and HTML report

A trace is a YAML (or JSON) file of mails and the protocol stages Postfix asks about;
see docs/policy-sim.md. Exit status: 0 fine; 1 a mismatch, a failed check or a request
that got no answer; 2 bad input."""


class UsageError(Exception):
    """Bad command-line input or files; printed without a traceback, exit status 2."""


def _service_option(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {text!r}")
    try:
        if address:  # empty: a service whose address comes at replay time
            parse_endpoint(address)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name, address


def _stage_option(text: str) -> StageSpec:
    try:
        return StageSpec.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _client_options() -> argparse.ArgumentParser:
    """Postfix's policy client parameters, shared by replay and load."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Postfix client behaviour (smtpd_policy_service_* parameters)")
    group.add_argument(
        "--concurrency",
        "-c",
        type=int,
        default=None,
        metavar="N",
        help="simulated smtpd processes working in parallel, each with its own connections",
    )
    group.add_argument(
        "--reuse-limit",
        type=int,
        default=0,
        metavar="N",
        help="requests per connection before it is closed (Postfix default 0: no limit)",
    )
    group.add_argument(
        "--max-idle",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="close a connection unused this long (default 300)",
    )
    group.add_argument(
        "--max-ttl",
        type=float,
        default=1000.0,
        metavar="SECONDS",
        help="close a connection this old (default 1000)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=100.0,
        metavar="SECONDS",
        help="time limit for connecting and answering (default 100)",
    )
    group.add_argument(
        "--try-limit",
        type=int,
        default=2,
        metavar="N",
        help="attempts per request before Postfix's default action (default 2)",
    )
    group.add_argument(
        "--retry-delay", type=float, default=1.0, metavar="SECONDS", help="pause between attempts (default 1)"
    )
    where = parent.add_argument_group("where the services are")
    where.add_argument(
        "--service",
        "-s",
        type=_service_option,
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="address of a trace service (overrides the trace)",
    )
    where.add_argument(
        "--spawn",
        metavar="CONFIG",
        help="start our mtpolicyd with this config template and the back-ends it names "
        "({port}, {memcached}, {redis}, {mariadb_url}…); services match vhost names",
    )
    where.add_argument(
        "--spawn-command",
        metavar="COMMAND",
        help="daemon command for --spawn (default: the mtpolicyd next to this Python)",
    )
    parent.add_argument(
        "--seed", type=int, default=1, help="seed for pids, queue ids and arrivals (default 1)"
    )
    parent.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="policy-sim", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"policy-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    client = _client_options()

    send = commands.add_parser(
        "send",
        help="send one request (name=value arguments, or blocks on standard input)",
        description="Send policy requests and print each answer's action. With name=value arguments one "
        "request is sent; otherwise requests are read from standard input, each ended by an "
        "empty line. request= and instance= are added when missing. Exit status 1 when the "
        "server does not answer.",
    )
    send.add_argument("attributes", nargs="*", metavar="NAME=VALUE", help="request attributes")
    send.add_argument(
        "--host", "-H", default="localhost:12345", help="HOST:PORT of the daemon (default localhost:12345)"
    )
    send.add_argument("--socket", metavar="PATH", help="a Unix socket of the daemon instead of TCP")
    send.add_argument("--keepalive", "-k", action="store_true", help="one connection for all requests")
    send.add_argument(
        "--verbose", "-v", action="store_true", help="show requests (>>) and replies (<<) on standard error"
    )
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")

    generate = commands.add_parser(
        "generate",
        help="write a seeded synthetic trace",
        description="Write a synthetic trace: repeat clients and popular senders (Zipf), recipients per "
        "mail geometric around --mean-recipients with a long tail up to --max-recipients, "
        "SASL users and bounces. The same seed gives the same trace.",
    )
    generate.add_argument(
        "--output", "-o", default="-", help="file to write (.json for JSON; default stdout)"
    )
    generate.add_argument("--mails", "-n", type=int, default=1000, help="number of mails (default 1000)")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.add_argument("--max-recipients", type=int, default=50, help="most recipients of a mail (50)")
    generate.add_argument("--mean-recipients", type=float, default=2.5, help="typical recipients (2.5)")
    generate.add_argument(
        "--tail-share", type=float, default=0.03, help="share of mails with 10..max recipients (0.03)"
    )
    generate.add_argument("--clients", type=int, default=0, help="distinct clients (default mails/8)")
    generate.add_argument("--senders", type=int, default=0, help="distinct senders (default mails/4)")
    generate.add_argument("--sasl-share", type=float, default=0.15, help="share of SASL mails (0.15)")
    _trace_shape_options(generate)

    importer = commands.add_parser(
        "import-maillog",
        help="turn a Postfix mail log into a trace",
        description="Read a Postfix mail log (smtpd connect/client=/NOQUEUE reject lines, qmgr from=, "
        "delivery to= lines) and write a trace with one mail per transaction: client, helo, "
        "sender, SASL user and recipients in order (rejected ones included).",
    )
    importer.add_argument("maillog", nargs="*", help="log file(s), read in order ('-' for stdin)")
    importer.add_argument(
        "--sample",
        action="store_true",
        help=f"read the sample mail log installed with policy-sim ({sample_maillog()})",
    )
    importer.add_argument(
        "--output", "-o", default="-", help="file to write (.json for JSON; default stdout)"
    )
    importer.add_argument(
        "--anonymise",
        "--anonymize",
        action="store_true",
        help="replace addresses, host names, IPs and SASL users by stable pseudonyms",
    )
    importer.add_argument(
        "--anonymise-key",
        metavar="KEY",
        help="key for the pseudonyms: the same key gives the same pseudonyms across runs "
        "(default: a random key per run)",
    )
    _trace_shape_options(importer)

    replay_parser = commands.add_parser(
        "replay",
        parents=[client],
        help="send a trace and compare the answers with its expectations",
        description="Replay a trace like Postfix: each simulated smtpd process takes the next mail and asks "
        "its stages in order over its own kept-alive connection per service. Wrong actions, "
        "wrong scores (expect_score against the sum of the stages' score increments) and "
        "requests that got no answer are printed as a diff; exit status 1 when there is any. "
        "--check also demands every request answered on the first try (no failed attempt) "
        "and (with --daemon-log or --spawn) no session lock failure in the daemon's log.",
    )
    replay_parser.add_argument("trace", help="trace file (YAML or JSON)")
    replay_parser.add_argument("--check", action="store_true", help="also check the invariants (see above)")
    replay_parser.add_argument("--daemon-log", metavar="FILE", help="daemon log to scan for lock failures")
    replay_parser.add_argument(
        "--max-diffs", type=int, default=50, metavar="N", help="show at most N mismatches (default 50)"
    )

    load = commands.add_parser(
        "load",
        parents=[client],
        help="load a daemon for a while and report throughput and latency",
        description="Closed loop (default: --concurrency smtpd processes send back to back) or open loop "
        "(--rate mails per second, Poisson arrivals, served by up to --concurrency processes) "
        "for --duration seconds. The trace's mails are cycled; without a trace a synthetic one "
        "is generated. Writes a JSON report (schema_version 1) and an HTML page with charts. "
        "With --baseline the same load runs against a second daemon afterwards and the ratio "
        "is printed. Exit status 1 when a request got no answer (every attempt failed).",
    )
    load.add_argument("trace", nargs="?", help="trace file (default: a generated one, see --mails)")
    load.add_argument("--duration", "-d", type=float, default=10.0, help="seconds per target (default 10)")
    load.add_argument("--rate", "-r", type=float, help="open loop: mails per second")
    load.add_argument(
        "--target",
        "-t",
        metavar="SPEC",
        help="HOST:PORT for every service, or NAME=HOST:PORT[,…] (default: the trace's)",
    )
    load.add_argument("--baseline", "-b", metavar="SPEC", help="a second daemon to compare with (same form)")
    load.add_argument(
        "--baseline-command",
        metavar="COMMAND",
        help="with --spawn: spawn the same config with this daemon as the baseline "
        "(e.g. /usr/bin/mtpolicyd for the Perl original)",
    )
    load.add_argument("--mails", type=int, default=500, help="mails of the generated trace (default 500)")
    load.add_argument(
        "--report-json",
        metavar="FILE",
        default="policy-sim-report.json",
        help="JSON report path (default policy-sim-report.json; '-' for stdout)",
    )
    load.add_argument(
        "--report-html",
        metavar="FILE",
        default="policy-sim-report.html",
        help="HTML charts path (default policy-sim-report.html; '' for none)",
    )
    return parser


def _trace_shape_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        "-s",
        type=_service_option,
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="a service of the trace (default policy=127.0.0.1:12345)",
    )
    parser.add_argument(
        "--stage",
        type=_stage_option,
        action="append",
        default=[],
        metavar="STATE@SERVICE[:score=N][:expect=TEXT][:expect_score]",
        help="a stage of every mail, in order (default RCPT@policy and END-OF-MESSAGE@policy)",
    )


def _services(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return dict(pairs) or {"policy": "127.0.0.1:12345"}


def _client_settings(args: argparse.Namespace) -> ClientSettings:
    return ClientSettings(
        reuse_limit=args.reuse_limit,
        max_idle=args.max_idle,
        max_ttl=args.max_ttl,
        timeout=args.timeout,
        try_limit=max(1, args.try_limit),
        retry_delay=args.retry_delay,
    )


def run_send(args: argparse.Namespace) -> int:
    """Send requests like the original policyd-client; print each action."""
    if args.attributes:
        try:
            blocks = list(read_request_blocks(args.attributes))
        except ValueError as error:
            raise UsageError(f"bad argument: {error}") from None
        blocks = [{name: value for block in blocks for name, value in block.items()}]
    else:
        blocks = read_request_blocks(sys.stdin)  # type: ignore[assignment]
    endpoint = None if args.socket else parse_endpoint(args.host, "localhost")
    client = PolicyClient(endpoint, args.socket, args.keepalive, args.timeout)
    try:
        for block in blocks:
            request = complete_request(block)
            if args.verbose:
                dump(">> ", "".join(f"{name}={value}\n" for name, value in request.items()), sys.stderr)
            reply = client.request(request)
            if args.verbose:
                dump("<< ", reply.as_text(), sys.stderr)
            print(reply.action)
    except ValueError as error:
        raise UsageError(f"standard input: {error}") from None
    except OSError as error:
        print(f"policy-sim send: {endpoint or args.socket}: {error}", file=sys.stderr)
        return EXIT_MISMATCH
    finally:
        client.close()
    return EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    """Write a synthetic trace."""
    settings = GeneratorSettings(
        mails=args.mails,
        seed=args.seed,
        max_recipients=args.max_recipients,
        mean_recipients=args.mean_recipients,
        tail_share=args.tail_share,
        clients=args.clients,
        senders=args.senders,
        sasl_share=args.sasl_share,
        services=_services(args.service),
        stages=args.stage or DEFAULT_STAGES,
    )
    _check_stage_services(settings.stages, settings.services)
    document = generate_document(settings)
    write_document(document, args.output, f"policy-sim generate --mails {args.mails} --seed {args.seed}")
    return EXIT_OK


def _check_stage_services(stages: Sequence[StageSpec], services: dict[str, str]) -> None:
    unknown = sorted({stage.service for stage in stages} - set(services))
    if unknown:
        raise UsageError(f"stage service(s) {', '.join(unknown)} not defined: add --service NAME=HOST:PORT")


@contextlib.contextmanager
def _open_logs(paths: Sequence[str]) -> Iterator[Iterator[str]]:
    files = []
    try:
        for path in paths:
            files.append(sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace"))  # noqa: SIM115
        yield (line for file in files for line in file)
    except OSError as error:
        raise UsageError(f"cannot read {error.filename}: {error.strerror}") from None
    finally:
        for file in files:
            if file is not sys.stdin:
                file.close()


def run_import(args: argparse.Namespace) -> int:
    """Turn mail logs into a trace."""
    services = _services(args.service)
    stages = args.stage or [StageSpec("RCPT", next(iter(services)))]
    _check_stage_services(stages, services)
    pseudonyms = None
    if args.anonymise:
        key = args.anonymise_key.encode() if args.anonymise_key else secrets.token_bytes(32)
        pseudonyms = Pseudonymiser(key)
    paths = [*([str(sample_maillog())] if args.sample else []), *args.maillog]
    if not paths:
        raise UsageError("give mail log file(s), '-' for standard input, or --sample")
    with _open_logs(paths) as lines:
        document, reader = import_maillog(lines, services, stages, pseudonyms)
    write_document(
        document,
        args.output,
        f"policy-sim import-maillog: {len(document['mails'])} mails from "
        f"{reader.lines_used} of {reader.lines_read} log lines",
    )
    print(
        f"policy-sim: {len(document['mails'])} mails from {reader.lines_used} of {reader.lines_read} lines",
        file=sys.stderr,
    )
    return EXIT_OK


def _load_trace(path: str) -> Trace:
    try:
        return load_trace(path)
    except TraceError as error:
        raise UsageError(str(error)) from None


def _target_from(args: argparse.Namespace, trace: Trace, spec: str | None, label: str) -> Target | None:
    try:
        if spec:
            return Target.parse(spec, label)
        if args.service:
            return Target.parse(",".join(f"{name}={address}" for name, address in args.service), label)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return None


def run_replay(args: argparse.Namespace) -> int:
    """Replay a trace; print mismatches; exit 1 on any."""
    trace = _load_trace(args.trace)
    concurrency = args.concurrency or 1
    with contextlib.ExitStack() as stack:
        target = _target_from(args, trace, None, "target")
        daemon_log = Path(args.daemon_log) if args.daemon_log else None
        if args.spawn:
            spawned = stack.enter_context(SpawnedDaemons(args.spawn, args.spawn_command))
            target = spawned.target_for(trace, "mtpolicyd", "target")
            daemon_log = spawned.log_paths[0]
            print(f"policy-sim: spawned {spawned.name} ({target}); log {daemon_log}", file=sys.stderr)
        try:
            endpoints = resolve_endpoints(trace, target)
        except ValueError as error:
            raise UsageError(str(error)) from None
        progress = Progress(len(trace.mails), "mails", enabled=not args.quiet)
        stats = RunStats()

        def finished(outcome: object) -> None:
            stats.add(outcome)  # type: ignore[arg-type]
            progress.update(stats.mails, stats.requests, stats.unanswered)

        result = asyncio.run(
            replay(trace, endpoints, concurrency, _client_settings(args), finished, args.seed)
        )
        progress.finish(stats.mails, stats.requests, stats.unanswered)
        report = check_outcomes(result.outcomes, invariants=args.check)
        if args.check and daemon_log is not None and daemon_log.exists():
            report.findings.extend(lock_failures(daemon_log))
    for finding in report.findings[: args.max_diffs]:
        print(finding.as_diff())
    if len(report.findings) > args.max_diffs:
        print(f"… and {len(report.findings) - args.max_diffs} more")
    rate = result.request_count / result.elapsed if result.elapsed else 0.0
    print(
        f"{'OK' if report.ok else 'FAILED'}: {report.summary()}; {result.elapsed:.1f}s, {rate:.0f} req/s, "
        f"{result.connections_opened} connections"
    )
    return EXIT_OK if report.ok else EXIT_MISMATCH


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
    elif path:
        Path(path).write_text(text, encoding="utf-8")


def run_load_command(args: argparse.Namespace) -> int:
    """Run the load against the target (and baseline), write the reports."""
    if args.trace:
        trace = _load_trace(args.trace)
    else:
        document = generate_document(GeneratorSettings(mails=args.mails, seed=args.seed))
        trace = parse_trace(dump_document(document), "<generated>")
    settings = LoadSettings(
        duration=args.duration,
        concurrency=args.concurrency or 8,
        rate=args.rate,
        seed=args.seed,
        client=_client_settings(args),
    )
    started_at = datetime.datetime.now(datetime.UTC)
    results = []
    with contextlib.ExitStack() as stack:
        targets = [_target_from(args, trace, args.target, "target")]
        if args.spawn:
            spawned = stack.enter_context(SpawnedDaemons(args.spawn, args.spawn_command))
            targets = [spawned.target_for(trace, "mtpolicyd", "target")]
            if args.baseline_command:
                base = stack.enter_context(SpawnedDaemons(args.spawn, args.baseline_command, ["baseline"]))
                targets.append(base.target_for(trace, "baseline", "baseline"))
        if args.baseline:
            targets.append(_target_from(args, trace, args.baseline, "baseline"))
        for target in targets:
            try:
                endpoints = resolve_endpoints(trace, target)
            except ValueError as error:
                raise UsageError(str(error)) from None
            label = target.label if target else "target"
            described = ",".join(f"{name}={address}" for name, address in endpoints.items())
            progress = Progress(settings.duration, f"s ({label})", enabled=not args.quiet)

            def show(stats: RunStats, elapsed: float, progress: Progress = progress) -> None:
                progress.update(elapsed, stats.requests, stats.unanswered)

            result = asyncio.run(run_load(trace, endpoints, settings, label, described, show))
            progress.finish(
                min(result.elapsed, settings.duration), result.stats.requests, result.stats.unanswered
            )
            results.append(result)
    report = build_report(trace, settings, results, started_at)
    _write(args.report_json, json.dumps(report, indent=1) + "\n")
    if args.report_html:
        _write(args.report_html, render_html(report))
    print(summary_text(report), file=sys.stderr if args.report_json == "-" else sys.stdout)
    problems = load_failures(report)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return EXIT_MISMATCH if problems else EXIT_OK


COMMANDS = {
    "send": run_send,
    "generate": run_generate,
    "import-maillog": run_import,
    "replay": run_replay,
    "load": run_load_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``policy-sim`` script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ServiceError) as error:
        print(f"policy-sim {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
