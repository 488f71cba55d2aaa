"""What the daemon tells once at start-up (and on reload): the dialect read, and whether sessions work.

Said at start so an admin learns it from one log line, not from every request failing.
"""

from __future__ import annotations

import asyncio
import logging

from mtpolicyd_core.config.model import Config
from mtpolicyd_core.errors import SessionError
from mtpolicyd_core.session.base import SessionCache

log = logging.getLogger("mtpolicyd.startup")

#: the daemon's notice level (log_level 2), between INFO and WARNING
NOTICE = 25
#: seconds the start-up probe of the session back-end may take
PROBE_TIMEOUT = 5.0


def dialect_line(config: Config) -> str:
    """``configuration FILE read as dialect 1.x: memcached_servers at line 19, …``."""
    return f"configuration {config.path} read as dialect {config.dialect}.x: {config.dialect_reason}"


def log_dialect(config: Config) -> None:
    """The dialect and its evidence, at notice level."""
    log.log(NOTICE, "%s", dialect_line(config))


def session_failure_consequence(config: Config) -> str:
    """What happens to requests while the session back-end does not answer."""
    policy = config.session_cache
    if policy.failure_mode == "continue":
        return "requests are answered without a session (session_failure = continue)"
    if policy.failure_mode == "action":
        return f"requests with an instance are answered {policy.failure_action!r} (session_failure = action)"
    return (
        "every request with an instance is closed unanswered and Postfix applies its own default"
        " (session_failure = close)"
    )


def session_trouble(config: Config, error: SessionError) -> str:
    """The start-up message for a session back-end that does not answer: where, what follows, what to do."""
    cache = config.session_cache
    where = str(cache.location) if cache.location is not None else config.path
    text = (
        f"{where}: the session cache does not answer at start-up ({error});"
        f" until it does, {session_failure_consequence(config)}"
    )
    if config.dialect == "1" and not config.dialect_forced:
        text += (
            f". This file is read as 1.x ({config.dialect_reason}); Perl 2.x ignores these globals and"
            " keeps no session: config_dialect = 2 (or --dialect 2) does the same here"
        )
    return text


async def check_session_cache(config: Config, cache: SessionCache) -> str | None:
    """Probe the session back-end once; the logged error text when it does not answer, else None."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await cache.probe()
    except TimeoutError:
        message = session_trouble(config, SessionError(f"no answer in {PROBE_TIMEOUT:g} s"))
    except SessionError as error:
        message = session_trouble(config, error)
    else:
        return None
    log.error("%s", message)
    return message
