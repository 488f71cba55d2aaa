"""Seeded synthetic traces: repeat clients, popular senders, long-tailed recipient counts."""

from __future__ import annotations

import ipaddress
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_sim.endpoint import parse_endpoint
from policy_sim.trace.model import PROTOCOL_STATES


@dataclass(frozen=True)
class StageSpec:
    """A stage of every generated mail: ``STATE@SERVICE[:score=N][:expect=TEXT][:expect_score]``."""

    state: str
    service: str
    score: float = 0.0
    expect: str = ""
    expect_score: bool = False

    @classmethod
    def parse(cls, text: str) -> StageSpec:
        """Parse the command-line form; ValueError names what is wrong."""
        head, *options = text.split(":")
        state, sep, service = head.partition("@")
        if not sep or not state or not service:
            raise ValueError(
                f"bad stage {text!r}: expected STATE@SERVICE[:score=N][:expect=TEXT][:expect_score]"
            )
        score, expect, expect_score = 0.0, "", False
        for option in options:
            name, _, value = option.partition("=")
            if name == "score":
                try:
                    score = float(value)
                except ValueError:
                    raise ValueError(f"bad stage {text!r}: score must be a number, not {value!r}") from None
            elif name == "expect":
                expect = value
            elif name == "expect_score":
                expect_score = True
            else:
                raise ValueError(f"bad stage option {option!r} in {text!r}")
        if state.upper() not in PROTOCOL_STATES:
            raise ValueError(
                f"bad stage {text!r}: unknown protocol state {state!r} (one of {', '.join(PROTOCOL_STATES)})"
            )
        return cls(state.upper(), service, score, expect, expect_score)

    def as_document(self) -> dict[str, Any]:
        """The stage as written in a trace."""
        document: dict[str, Any] = {"state": self.state, "service": self.service}
        if self.score:
            document["score"] = _number(self.score)
        if self.expect:
            document["expect"] = self.expect
        if self.expect_score:
            document["expect_score"] = True
        return document


DEFAULT_STAGES = (StageSpec("RCPT", "policy"), StageSpec("END-OF-MESSAGE", "policy"))


@dataclass(frozen=True)
class GeneratorSettings:
    """Shape of a synthetic trace. Recipient counts: geometric around ``mean_recipients``,
    plus a ``tail_share`` of mails drawn log-uniformly up to ``max_recipients``."""

    mails: int = 1000
    seed: int = 1
    max_recipients: int = 50
    mean_recipients: float = 2.5
    tail_share: float = 0.03
    clients: int = 0  # 0: one client per 8 mails
    senders: int = 0  # 0: one sender per 4 mails
    local_users: int = 500
    sasl_share: float = 0.15
    bounce_share: float = 0.04
    services: dict[str, str] = field(default_factory=lambda: {"policy": "127.0.0.1:12345"})
    stages: Sequence[StageSpec] = DEFAULT_STAGES
    hosts: int = 1  # more than one: a fleet mx1…mxN, each mail retried once when deferred
    retry_share: float = 0.5  # share of mails whose retry goes to another host
    retry_after: float = 1.0  # seconds before the retry


def _zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    """Cumulative weights: item k is drawn with probability ∝ 1 / k**exponent."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


#: RFC 5737 documentation networks: generated clients never point at a real host or blocklist entry
DOCUMENTATION_NETWORKS_V4 = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
#: RFC 3849: the IPv6 documentation prefix, for a share of clients and for those beyond the IPv4 ones
DOCUMENTATION_NETWORK_V6 = "2001:db8::/32"
#: RFC 2606 / RFC 6761 reserved names for every generated domain
RESERVED_DOMAINS = ("example", "test", "invalid", "example.com", "example.net", "example.org")
IPV6_CLIENT_SHARE = 0.1


class _Population:
    """The clients, senders and local recipients a generated trace draws from."""

    def __init__(self, settings: GeneratorSettings, rng: random.Random) -> None:
        self.rng = rng
        client_count = settings.clients or max(1, settings.mails // 8)
        sender_count = settings.senders or max(1, settings.mails // 4)
        self.ipv4_pool = [
            str(address)
            for network in DOCUMENTATION_NETWORKS_V4
            for address in ipaddress.ip_network(network).hosts()
        ]
        rng.shuffle(self.ipv4_pool)
        self.clients = [self._client(number) for number in range(client_count)]
        self.client_weights = _zipf_weights(client_count)
        self.senders = [f"{self._word()}.{self._word()}@{self._domain()}" for _ in range(sender_count)]
        self.sender_weights = _zipf_weights(sender_count)
        self.users = [f"{self._word()}{number}@example.org" for number in range(settings.local_users)]
        self.user_weights = _zipf_weights(settings.local_users, 0.8)
        self.sasl_users = [f"user{number}" for number in range(max(1, client_count // 4))]

    def _word(self) -> str:
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(self.rng.randint(3, 8)))

    def _domain(self) -> str:
        return f"{self._word()}.{self.rng.choice(RESERVED_DOMAINS)}"

    def _address(self, number: int) -> tuple[str, str]:
        """A documentation address and its HELO literal; IPv6 for a share, and once IPv4 runs out."""
        if self.rng.random() < IPV6_CLIENT_SHARE or not self.ipv4_pool:
            prefix = ipaddress.ip_network(DOCUMENTATION_NETWORK_V6)[0]
            address = str(prefix + (self.rng.randrange(1 << 16) << 80) + number + 1)
            return address, f"[IPv6:{address}]"
        address = self.ipv4_pool.pop()
        return address, f"[{address}]"

    def _client(self, number: int) -> dict[str, str]:
        address, literal = self._address(number)
        if self.rng.random() < 0.1:
            return {"client_address": address, "client_name": "unknown", "helo": literal}
        name = f"mx{number}.{self._domain()}"
        return {"client_address": address, "client_name": name, "helo": name}


def _recipient_count(settings: GeneratorSettings, rng: random.Random) -> int:
    top = max(1, settings.max_recipients)
    if rng.random() < settings.tail_share and top >= 10:
        return min(top, int(math.exp(rng.uniform(math.log(10), math.log(top + 1)))))
    # geometric on 1, 2, … with the given mean
    success = 1.0 / max(1.0, settings.mean_recipients)
    count = 1
    while rng.random() > success and count < top:
        count += 1
    return count


def generate_document(settings: GeneratorSettings) -> dict[str, Any]:
    """A trace document (ready for ``write_document``) with ``settings.mails`` mails."""
    for address in settings.services.values():
        if address:  # an empty address is filled in at replay time (--service, --spawn)
            parse_endpoint(address)
    rng = random.Random(settings.seed)
    population = _Population(settings, rng)
    mails = []
    for _ in range(settings.mails):
        client = rng.choices(population.clients, cum_weights=population.client_weights)[0]
        mail: dict[str, Any] = dict(client)
        if rng.random() < settings.sasl_share:
            user = rng.choice(population.sasl_users)
            mail["sasl_username"] = user
            mail["sender"] = f"{user}@example.org"
        elif rng.random() < settings.bounce_share:
            mail["sender"] = ""
        else:
            mail["sender"] = rng.choices(population.senders, cum_weights=population.sender_weights)[0]
        count = _recipient_count(settings, rng)
        recipients: list[str] = []
        while len(recipients) < min(count, len(population.users)):
            user = rng.choices(population.users, cum_weights=population.user_weights)[0]
            if user not in recipients:
                recipients.append(user)
        mail["recipients"] = recipients
        mail["size"] = int(rng.lognormvariate(math.log(20_000), 1.2))
        mails.append(mail)
    hosts = _spread_over_fleet(mails, settings) if settings.hosts > 1 else None
    return {
        "version": 2 if hosts else 1,
        "services": dict(settings.services),
        **({"hosts": hosts} if hosts else {}),
        "stages": [stage.as_document() for stage in settings.stages],
        "mails": mails,
    }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _spread_over_fleet(mails: list[dict[str, Any]], settings: GeneratorSettings) -> dict[str, str]:
    """Make the trace a fleet: each mail on a random host, its retry (when deferred) on another host
    for ``retry_share`` of the mails, like a sending MTA trying the next MX; the hosts (no address)."""
    rng = random.Random(f"fleet-{settings.seed}")  # its own stream: the mails stay those of the seed
    names = [f"mx{number}" for number in range(1, settings.hosts + 1)]
    for mail in mails:
        first = rng.choice(names)
        moves = rng.random() < settings.retry_share
        mail["host"] = first
        mail["retries"] = [
            {
                "after": _number(settings.retry_after),
                "host": rng.choice([n for n in names if n != first]) if moves else first,
            }
        ]
    return dict.fromkeys(names, "")
