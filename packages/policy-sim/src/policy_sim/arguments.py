"""The ``policy-sim`` command line: every subcommand's options and help."""

from __future__ import annotations

import argparse

from policy_sim import __version__
from policy_sim.endpoint import parse_endpoint
from policy_sim.generate import StageSpec
from policy_sim.maillog import sample_maillog

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
    _service_argument(where, "address of a trace service (overrides the trace)")
    where.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="[NAME=]SPEC",
        help="a daemon to drive; repeat it for a fleet, all driven at once. SPEC is HOST:PORT (every "
        "service) or SERVICE=HOST:PORT[,…]; NAME= names a host (one of the trace's hosts, if it has "
        "any). Mails without a host are spread round robin. Default: the trace's addresses",
    )
    where.add_argument(
        "--spawn",
        metavar="CONFIG",
        help="start our mtpolicyd with this config template and the back-ends it names "
        "({port}, {memcached}, {redis}, {mariadb_url}…), one daemon per host of a fleet trace, "
        "all on the same back-ends; services match vhost names",
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
        "SASL users and bounces; clients use documentation addresses (RFC 5737, RFC 3849) and "
        "every domain is a reserved one (RFC 2606, RFC 6761). The same seed gives the same trace.",
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
    fleet = generate.add_argument_group("fleets (trace version 2)")
    fleet.add_argument(
        "--hosts",
        type=int,
        default=1,
        metavar="N",
        help="policy hosts mx1…mxN (addresses at run time: --target mx1=HOST:PORT or --spawn); each "
        "mail goes to a random one and, when deferred, is retried once (default 1: no fleet)",
    )
    fleet.add_argument(
        "--retry-share",
        type=float,
        default=0.5,
        metavar="SHARE",
        help="share of mails whose retry lands on another host than the first attempt (0.5)",
    )
    fleet.add_argument(
        "--retry-after", type=float, default=1.0, metavar="SECONDS", help="delay of the retry (default 1)"
    )
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
        "for --duration seconds; with several --target (or a fleet trace) every host at once, "
        "--concurrency processes each. The trace's mails are cycled; without a trace a synthetic "
        "one is generated. Writes a JSON report (schema_version 1: totals and per target) and "
        "an HTML page with charts. "
        "With --baseline the same load runs against a second daemon afterwards and the ratio "
        "is printed. Exit status 1 when a request got no answer (every attempt failed).",
    )
    load.add_argument("trace", nargs="?", help="trace file (default: a generated one, see --mails)")
    load.add_argument("--duration", "-d", type=float, default=10.0, help="seconds per target (default 10)")
    load.add_argument("--rate", "-r", type=float, help="open loop: mails per second")
    load.add_argument(
        "--baseline",
        "-b",
        metavar="SPEC",
        help="a second daemon to compare with (HOST:PORT or SERVICE=HOST:PORT,…)",
    )
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


def _service_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help_text: str) -> None:
    parser.add_argument(
        "--service",
        "-s",
        type=_service_option,
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help=help_text,
    )


def _trace_shape_options(parser: argparse.ArgumentParser) -> None:
    _service_argument(parser, "a service of the trace (default policy=127.0.0.1:12345)")
    parser.add_argument(
        "--stage",
        type=_stage_option,
        action="append",
        default=[],
        metavar="STATE@SERVICE[:score=N][:expect=TEXT][:expect_score]",
        help="a stage of every mail, in order (default RCPT@policy and END-OF-MESSAGE@policy)",
    )
