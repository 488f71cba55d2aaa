"""Two mail hosts, one shared state: two daemons on a Redis Cluster (3 primaries + 3 replicas), a pool of
three memcached servers and MariaDB — greylisting across hosts, an exact quota under parallel load, a
Redis primary and a memcached node killed mid-run (docs/scale-out.md)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.memcached import MemcachedConnection, memcached_key
from mtpolicyd_core.plugins.greylist.ticket import ticket_key
from pymemcache.client.rendezvous import RendezvousHash

from integration.fixtures.config_text import (
    RCPT_SCORE,
    SHOW_SCORE,
    quota_and_accounting,
    session_cache,
    shared_connections,
    vhost,
    workers,
)
from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import MariaDBDatabase
from integration.fixtures.policy_client import PolicyConnection
from integration.fixtures.redis_cluster import RedisClusterServers

#: the chain's answer for a new mail: its score so far (sessions), or the failure policy's
FAILURE_ACTION = "defer_if_permit session store unavailable"
QUOTA_ACTION = "defer smtp traffic quota has been exceeded"
#: not a multiple of the 4 streams: checked in bursts of 4, read-then-count lets 22-24 through
QUOTA = 21

#: tickets in the memcached pool, the auto-whitelist in MariaDB
GREYLIST = """\
  <Plugin greylist>
    module = "Greylist"
    mode = "accept"
    <Ticket>
      module = "Memcached"
    </Ticket>
    <AWL>
      module = "Sql"
    </AWL>
  </Plugin>
"""
FLEET = (
    workers(2, 4)
    + shared_connections(failover_timeout=1)
    + session_cache("{sessions}", failure_mode="action", failure_action="{failure_action}")
    + vhost("port", "reputation", RCPT_SCORE, SHOW_SCORE)
    + vhost("port2", "greylist", GREYLIST)
    + vhost("port3", "quota", quota_and_accounting("{quota}"))
)

_instances = itertools.count(1)


def new_instance(prefix: str) -> str:
    """A Postfix-like instance id, unique in the run."""
    return f"{prefix}{next(_instances):06X}"


def rcpt(instance: str, **attributes: str) -> dict[str, str]:
    """A RCPT request of mail ``instance``."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": "192.0.2.25",
        "sender": "sender@example.net",
        "recipient": "rcpt@example.org",
        "instance": instance,
        **attributes,
    }


@dataclass
class Fleet:
    """Two daemons (mx1, mx2) on one set of back-ends."""

    mx1: MtpolicydDaemon
    mx2: MtpolicydDaemon
    memcached: list[MemcachedServer]
    database: MariaDBDatabase

    @property
    def hosts(self) -> tuple[MtpolicydDaemon, MtpolicydDaemon]:
        return (self.mx1, self.mx2)

    @property
    def memcached_servers(self) -> str:
        return ", ".join(server.address for server in self.memcached)


@pytest.fixture
def fleet_with_sessions_in(
    python_mtpolicyd: Callable[..., MtpolicydDaemon],
    memcached_factory: Callable[[], MemcachedServer],
    redis_cluster: RedisClusterServers,
    mariadb_database: MariaDBDatabase,
) -> Callable[[str], Fleet]:
    """``fleet_with_sessions_in("Redis")``: mx1 and mx2 sharing the cluster, three memcached and one
    MariaDB database, sessions in the cluster (``"Redis"``) or in the memcached pool (``"Memcached"``)."""

    def start(sessions: str) -> Fleet:
        memcached = [memcached_factory() for _ in range(3)]
        values = {
            "cluster": redis_cluster.startup_nodes,
            "memcached": ", ".join(server.address for server in memcached),
            "dsn": mariadb_database.dsn,
            "db_user": mariadb_database.server.user,
            "db_password": mariadb_database.server.password,
            "sessions": sessions,
            "failure_action": FAILURE_ACTION,
            "quota": str(QUOTA),
        }
        mx1 = python_mtpolicyd(FLEET, **values)
        mx2 = python_mtpolicyd(FLEET, **values)
        return Fleet(mx1, mx2, memcached, mariadb_database)

    return start


@pytest.fixture
def fleet(fleet_with_sessions_in: Callable[[str], Fleet]) -> Fleet:
    """The fleet with its sessions in the Redis Cluster."""
    return fleet_with_sessions_in("Redis")


def age_tickets(servers: str, keys: list[str]) -> int:
    """Make the greylisting tickets still stored valid now, as if the retry wait had passed; how many.

    ``replace`` never creates a ticket that is gone: one lost with a memcached node stays lost.
    """

    async def age() -> int:
        connection = MemcachedConnection(ConnectionConfig("aging", "Memcached", {"servers": servers}))
        pool = connection.handle
        aged = 0
        for key in keys:
            aged += await pool.replace(memcached_key(key), str(int(time.time()) - 1).encode(), 600)
        await connection.aclose()
        return aged

    return asyncio.run(age())


def greylist_request(fleet_host: MtpolicydDaemon, instance: str, client: str) -> list[str]:
    return fleet_host.request(rcpt(instance, client_address=client), port=fleet_host.ports[1])


def test_a_greylisted_mail_retried_via_the_other_host_after_the_wait_is_accepted_there(fleet: Fleet) -> None:
    client = "198.51.100.7"
    assert greylist_request(fleet.mx1, new_instance("G"), client) == ["action=defer greylisting is active"]
    key = ticket_key("sender@example.net", client, "rcpt@example.org")
    # too early, via the other host: the ticket made on mx1 is found and the wait still runs
    early = greylist_request(fleet.mx2, new_instance("G"), client)
    assert early[0].startswith("action=defer greylisting is active (") and early[0].endswith("s left)")
    assert age_tickets(fleet.memcached_servers, [key]) == 1
    assert greylist_request(fleet.mx2, new_instance("G"), client) == ["action=accept"]
    # the pass used the ticket up, for both hosts
    assert greylist_request(fleet.mx1, new_instance("G"), client) == ["action=defer greylisting is active"]


def test_a_quota_of_n_hit_by_four_parallel_streams_over_both_hosts_lets_exactly_n_through(
    fleet: Fleet,
) -> None:
    """Each stream sends its next mail when all four are ready: bursts of 4 mails checked together.

    With the check and the count apart (a plugin between Quota and Accounting), 22 or 23 of these mails
    passed the quota of 21 in our runs; see docs/decisions/0012-quota-counts-at-admission.md.
    """
    streams, mails_per_stream = 4, 15  # 60 mails from one sender
    answers: list[str] = []
    lock = threading.Lock()
    burst = threading.Barrier(streams)

    def stream(host: MtpolicydDaemon) -> None:
        with PolicyConnection(host.host, host.ports[2]) as conn:
            for _ in range(mails_per_stream):
                burst.wait(30)
                attributes = rcpt(new_instance("Q"), protocol_state="END-OF-MESSAGE", size="1000")
                answer = conn.request(attributes)
                with lock:
                    answers.extend(answer)

    threads = [threading.Thread(target=stream, args=(fleet.hosts[number % 2],)) for number in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    refused = streams * mails_per_stream - QUOTA
    assert Counter(answers) == {"action=dunno": QUOTA, f"action={QUOTA_ACTION}": refused}
    with fleet.database.server.admin() as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT `key`, count, size FROM `{fleet.database.name}`.acct_sender")
        assert cursor.fetchall() == (("sender@example.net", QUOTA, QUOTA * 1000),)


@dataclass
class BackgroundLoad:
    """New mails sent to both hosts in turn until stopped; every answer (or failure) kept."""

    fleet: Fleet
    answers: Counter[str] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self, host: MtpolicydDaemon) -> None:
        while not self.stopping.is_set():
            try:
                with PolicyConnection(host.host, host.port) as conn:
                    while not self.stopping.is_set():
                        answer = conn.request(rcpt(new_instance("L")))
                        self.answers[answer[0] if answer else "(empty)"] += 1
            except (ConnectionError, OSError) as error:
                self.unanswered.append(f"{host.port}: {error}")

    def __enter__(self) -> BackgroundLoad:
        self.threads = [threading.Thread(target=self.run, args=(host,)) for host in self.fleet.hosts]
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, answers: int, timeout: float = 60) -> None:
        """Until at least ``answers`` more answers came."""
        wanted = sum(self.answers.values()) + answers
        deadline = time.monotonic() + timeout
        while sum(self.answers.values()) < wanted and time.monotonic() < deadline:
            time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)


def test_a_redis_primary_killed_mid_run_fails_over_with_every_request_answered_and_kept_sessions_kept(
    fleet: Fleet, redis_cluster: RedisClusterServers
) -> None:
    mails = [new_instance("K") for _ in range(30)]
    for mail in mails:
        assert fleet.mx1.request(rcpt(mail)) == ["action=dunno score=1"]
    redis_cluster.wait_replicated()  # what the fail-over keeps: everything written so far
    victim = redis_cluster.primary_for(f"py:{{{mails[0]}}}")
    on_victim = [mail for mail in mails if redis_cluster.primary_for(f"py:{{{mail}}}") is victim]
    with BackgroundLoad(fleet) as load:
        load.wait_for(50)
        redis_cluster.kill_primary(victim)
        try:
            redis_cluster.wait_for_failover(victim)
            load.wait_for(100)
        finally:
            load.stopping.set()
    try:
        assert load.unanswered == []
        assert set(load.answers) <= {"action=dunno score=1", f"action={FAILURE_ACTION}"}, load.answers
        # every mail's session survived, those on the killed primary through its replica; via mx2 now
        for mail in mails:
            assert fleet.mx2.request(rcpt(mail)) == ["action=dunno score=2"], (mail, mail in on_victim)
    finally:
        redis_cluster.restart(victim)  # back as a replica: the next test finds 3 + 3 again
    print(f"answers while the primary failed over: {dict(load.answers)}")


def node_of(servers: list[MemcachedServer], key: str) -> str:
    """The memcached server (``host:port``) a key lives on while all are up: pymemcache's rendezvous hash."""
    return str(RendezvousHash(nodes=[server.address for server in servers]).get_node(memcached_key(key)))


def test_a_memcached_node_killed_mid_run_loses_exactly_its_sessions_and_tickets(
    fleet_with_sessions_in: Callable[[str], Fleet],
) -> None:
    fleet = fleet_with_sessions_in("Memcached")
    mails = [new_instance("M") for _ in range(30)]
    clients = [f"203.0.113.{number}" for number in range(1, 31)]
    for mail, client in zip(mails, clients, strict=True):
        assert fleet.mx1.request(rcpt(mail)) == ["action=dunno score=1"]
        assert greylist_request(fleet.mx1, new_instance("T"), client) == [
            "action=defer greylisting is active"
        ]
    victim = fleet.memcached[0]
    lost_sessions = {mail for mail in mails if node_of(fleet.memcached, f"py:{mail}") == victim.address}
    tickets = {client: ticket_key("sender@example.net", client, "rcpt@example.org") for client in clients}
    lost_tickets = {
        client for client, key in tickets.items() if node_of(fleet.memcached, key) == victim.address
    }
    assert lost_sessions and lost_tickets  # about a third of each
    victim.kill()
    # the surviving tickets' wait passes; a lost one is not brought back
    assert age_tickets(fleet.memcached_servers, list(tickets.values())) == len(clients) - len(lost_tickets)
    for mail in mails:  # the mail's next request, via the other host
        expected = "action=dunno score=1" if mail in lost_sessions else "action=dunno score=2"
        assert fleet.mx2.request(rcpt(mail)) == [expected], mail
    for client in clients:  # the retries, via the other host
        expected = "action=defer greylisting is active" if client in lost_tickets else "action=accept"
        assert greylist_request(fleet.mx2, new_instance("T"), client) == [expected], client
