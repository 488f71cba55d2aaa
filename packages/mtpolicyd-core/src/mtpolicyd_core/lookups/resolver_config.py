"""Where the stub resolver sends queries and how patiently: the C library's ``/etc/resolv.conf``,
overridden by the environment as Perl's Net::DNS reads it.

``RES_NAMESERVERS`` (blank-separated addresses) replaces the file's ``nameserver`` lines;
``RES_OPTIONS`` and the file's ``options`` line take ``port:N``, ``timeout:N``/``retrans:N``
(seconds per try), ``attempts:N``/``retry:N`` (tries) and ``rotate``; the environment wins.
No name server anywhere means 127.0.0.1, as in the C library. Search lists are not used:
every name the daemon asks for is absolute.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtpolicyd_core.lookups.dns_cache import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TTL

#: seconds one try waits for an answer, and how many tries a look-up makes
DEFAULT_TRY_TIMEOUT = 1.0
DEFAULT_ATTEMPTS = 2
RESOLV_CONF = Path("/etc/resolv.conf")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolverConfig:
    """Name servers, per-try timeout and tries (a look-up lasts at most ``lifetime``), cache bounds."""

    nameservers: tuple[str, ...] = ("127.0.0.1",)
    port: int = 53
    try_timeout: float = DEFAULT_TRY_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    rotate: bool = False
    cache_size: int = DEFAULT_MAX_ENTRIES
    max_cache_ttl: int = DEFAULT_MAX_TTL

    def __post_init__(self) -> None:
        if not self.nameservers or self.try_timeout <= 0 or self.attempts < 1:
            raise ValueError("a DNS resolver needs a name server, a positive timeout and an attempt")

    @property
    def lifetime(self) -> float:
        """Seconds a look-up may wait for answers in all: one try timeout per attempt."""
        return self.try_timeout * self.attempts

    @classmethod
    def from_system(
        cls,
        environ: Mapping[str, str] | None = None,
        resolv_conf: Path = RESOLV_CONF,
        cache_size: int = DEFAULT_MAX_ENTRIES,
        max_cache_ttl: int = DEFAULT_MAX_TTL,
    ) -> ResolverConfig:
        """Settings from ``resolv_conf`` and ``RES_NAMESERVERS``/``RES_OPTIONS`` in ``environ``
        (default ``os.environ``), with the given cache bounds."""
        env = os.environ if environ is None else environ
        file_servers, file_options = _read_resolv_conf(resolv_conf)
        settings: dict[str, Any] = {
            "nameservers": file_servers, "cache_size": cache_size, "max_cache_ttl": max_cache_ttl,
        }  # fmt: skip
        _apply_options(settings, file_options, str(resolv_conf))
        env_servers = _addresses(env.get("RES_NAMESERVERS", "").split(), "RES_NAMESERVERS")
        if env_servers:
            settings["nameservers"] = env_servers
        _apply_options(settings, env.get("RES_OPTIONS", "").split(), "RES_OPTIONS")
        if not settings["nameservers"]:
            settings["nameservers"] = ("127.0.0.1",)  # the C library's default without a name server
        return cls(**settings)

    def describe(self) -> str:
        """One line for ``mtpolicyd -d``."""
        servers = " ".join(self.nameservers)
        cache = (
            f"cache {self.cache_size} entries, max TTL {self.max_cache_ttl} s"
            if self.cache_size
            else "no cache"
        )
        return (
            f"DNS: nameservers {servers} port {self.port}, {self.try_timeout:g} s per try, "
            f"{self.attempts} attempts{', rotate' if self.rotate else ''}; {cache}"
        )


def _read_resolv_conf(path: Path) -> tuple[tuple[str, ...], list[str]]:
    """``nameserver`` addresses and ``options`` words of a resolv.conf; nothing if it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return (), []
    servers: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0][0] in "#;":
            continue
        if words[0] == "nameserver":
            servers.append(words[1])
        elif words[0] == "options":
            options.extend(words[1:])
    return _addresses(servers, str(path)), options


def _addresses(candidates: Iterable[str], source: str) -> tuple[str, ...]:
    """The IP addresses among ``candidates``; others are logged and left out."""
    addresses = []
    for candidate in candidates:
        try:
            ipaddress.ip_address(candidate.partition("%")[0])
        except ValueError:
            logger.warning("%s: name server %r is not an IP address; ignored", source, candidate)
            continue
        addresses.append(candidate)
    return tuple(addresses)


def _apply_options(settings: dict[str, Any], options: Iterable[str], source: str) -> None:
    """Net::DNS's option words: ``name:value`` with a whole number, or ``rotate``; others ignored."""
    for option in options:
        name, _, value = option.partition(":")
        if name == "rotate":
            settings["rotate"] = True
            continue
        if not value.isdigit():
            continue
        number = int(value)
        if name == "port" and 0 < number < 65536:
            settings["port"] = number
        elif name in ("timeout", "retrans") and number > 0:
            settings["try_timeout"] = float(number)
        elif name in ("attempts", "retry"):
            settings["attempts"] = max(number, 1)
        elif name in ("port", "timeout", "retrans"):
            logger.warning("%s: option %s out of range; ignored", source, option)
