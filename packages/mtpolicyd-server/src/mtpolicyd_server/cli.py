"""The ``mtpolicyd`` command: check and describe a config, run cron tasks, or run the daemon."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from mtpolicyd_core.config.loader import load_config
from mtpolicyd_core.config.model import Dialect
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.perl.comma_list import comma_list

from mtpolicyd_server.daemon import daemonize, drop_privileges, remove_pid_file, write_pid_file
from mtpolicyd_server.default_config import default_config_path
from mtpolicyd_server.describe import describe_engine
from mtpolicyd_server.fd_limits import raise_open_file_limit
from mtpolicyd_server.listeners import bind_all, parse_ports
from mtpolicyd_server.logging_setup import NOTICE, setup_logging
from mtpolicyd_server.master import Master
from mtpolicyd_server.sd_notify import SystemdNotifier
from mtpolicyd_server.startup_checks import startup_warnings

DEFAULT_CONFIG = "/etc/mtpolicyd/mtpolicyd.conf"
#: exit status for a config that cannot be used (a missing file is 1, as in the original)
EXIT_BAD_CONFIG = 2

log = logging.getLogger("mtpolicyd")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The original's options, plus ``--default-config`` for the packaged demo config."""
    parser = argparse.ArgumentParser(prog="mtpolicyd", description="modular policy daemon for Postfix")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help=f"configuration file (default {DEFAULT_CONFIG})",
    )
    source.add_argument(
        "--default-config", action="store_true", help="use the demo configuration shipped with the package"
    )
    parser.add_argument(
        "-f", "--foreground", action="store_true", help="stay in the foreground, log to stdout"
    )
    parser.add_argument(
        "-l",
        "--loglevel",
        type=int,
        choices=range(5),
        metavar="N",
        help="log level 0 (err) … 4 (debug); overrides log_level",
    )
    parser.add_argument(
        "-d",
        "--dump_vhosts",
        "--dump_config",
        action="store_true",
        dest="dump",
        help="print the configuration as understood (vhosts, plugins, options) and exit",
    )
    parser.add_argument(
        "--dialect",
        choices=("1", "2"),
        help="read the config as 1.x (globals) or 2.x (blocks) whatever it holds; overrides config_dialect",
    )
    parser.add_argument(
        "-t", "--cron", metavar="TASK,…", help="run these periodic tasks (hourly, daily, …) and exit"
    )
    args = parser.parse_args(argv)
    if args.default_config:
        args.config = default_config_path()
    # daemonizing changes to /, and HUP reads the file again: a relative path must not depend on it
    args.config = os.path.abspath(args.config)
    return args


def package_version() -> str:
    """The installed mtpolicyd-server's version (package metadata, the one place it is defined)."""
    try:
        return version("mtpolicyd-server")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mtpolicyd``; the exit status."""
    args = parse_args(argv)
    if not os.path.isfile(args.config):
        print(f"configuration file {args.config} does not exist!", file=sys.stderr)
        return 1
    try:
        engine = PolicyEngine(load_config(args.config, args.dialect))
    except ConfigError as error:
        print(f"mtpolicyd: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.dump:
        print(describe_engine(engine), end="")
        return 0
    if args.cron and args.cron.strip():
        setup_logging(args.loglevel if args.loglevel is not None else engine.config.server.log_level, True)
        asyncio.run(run_cron(engine, [task for task in comma_list(args.cron.strip()) if task]))
        return 0
    return serve(engine, args)


async def run_cron(engine: PolicyEngine, tasks: list[str]) -> None:
    """The plugins' periodic tasks, then every back-end closed."""
    try:
        await engine.cron(tasks)
    finally:
        await engine.aclose()


def start_engine(config_path: str, dialect: Dialect | None = None) -> PolicyEngine:
    """Load the config and let the plugins check their back-ends (as the serving user)."""
    engine = PolicyEngine(load_config(config_path, dialect))
    asyncio.run(engine.startup())
    return engine


def serve(engine: PolicyEngine, args: argparse.Namespace) -> int:
    """Bind, detach unless ``-f``, write the PID file, drop privileges and run the master."""
    server = engine.config.server
    log_level = args.loglevel if args.loglevel is not None else server.log_level
    setup_logging(log_level, foreground=True)
    before, after = raise_open_file_limit()
    try:
        listeners = bind_all(parse_ports(server.ports, server.host))
    except (OSError, ValueError) as error:
        log.error("%s", error)
        return 1
    if not args.foreground:
        daemonize()
    setup_logging(log_level, args.foreground, server.log_file, server.syslog_ident, server.syslog_facility)
    log.log(
        NOTICE,
        "mtpolicyd %s starting, open file limit %d%s",
        package_version(),
        after,
        f" (raised from {before})" if after != before else "",
    )
    for warning in startup_warnings(engine.config):
        log.warning("%s", warning)
    if server.max_requests <= 0:
        log.warning(
            "max_requests = %d: as in the original, each worker serves one connection", server.max_requests
        )
    if server.pid_file:
        write_pid_file(server.pid_file)
    if server.chroot:
        log.warning(
            "chroot is not supported (plugins are loaded on demand): ignoring chroot = %s", server.chroot
        )
    try:
        drop_privileges(server.user, server.group)
    except (KeyError, OSError) as error:
        log.error("cannot switch to user %s, group %s: %s", server.user, server.group, error)
        return 1
    config_path = args.config
    try:
        asyncio.run(engine.startup())
    except ConfigError as error:
        log.error("%s", error)
        return EXIT_BAD_CONFIG

    def reload() -> PolicyEngine:
        return start_engine(config_path, args.dialect)

    try:
        return Master(engine, listeners, reload, args.loglevel, SystemdNotifier()).run()
    finally:
        if server.pid_file:
            remove_pid_file(server.pid_file)


if __name__ == "__main__":
    sys.exit(main())
