"""The ``policy-sim`` command: send, generate, import-maillog, replay, load."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
from collections.abc import Iterator, Sequence

from policy_sim.anonymise import Pseudonymiser
from policy_sim.arguments import build_parser
from policy_sim.drive import run_load_command, run_replay
from policy_sim.endpoint import parse_endpoint
from policy_sim.exit_status import EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, UsageError
from policy_sim.generate import DEFAULT_STAGES, GeneratorSettings, StageSpec, generate_document
from policy_sim.maillog import import_maillog, sample_maillog
from policy_sim.send import PolicyClient, complete_request, dump, read_request_blocks
from policy_sim.services import ServiceError
from policy_sim.trace.writer import write_document

__all__ = ["EXIT_MISMATCH", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]


def _services(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return dict(pairs) or {"policy": "127.0.0.1:12345"}


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
        hosts=args.hosts,
        retry_share=args.retry_share,
        retry_after=args.retry_after,
    )
    if settings.hosts < 1 or not 0 <= settings.retry_share <= 1 or settings.retry_after < 0:
        raise UsageError("--hosts must be at least 1, --retry-share from 0 to 1, --retry-after not negative")
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
