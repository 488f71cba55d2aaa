"""Greylist and Honeypot on real memcached and MariaDB; Greylist also against the Perl original."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from pymemcache.client.base import Client

from integration.fixtures.mariadb import MariaDBServer
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory
from integration.plugins.test_sql_plugins import SERVER, daemon_values, databases, engine_answers, rcpt

__all__ = ["databases"]

GREYLIST_2X = """
<Connection db>
  module = "Sql"
  dsn = "{dsn}"
  user = "{user}"
  password = "{password}"
</Connection>
<Connection memcached>
  module = "Memcached"
  servers = "{memcached}"
  namespace = "{namespace}"
</Connection>
<VirtualHost {port}>
  name = greylist
  <Plugin greylist>
    module = "Greylist"
    score = -5
    mode = "accept"
  </Plugin>
</VirtualHost>
"""

WAIT = re.compile(r"action=defer greylisting is active \((29\d|300)s left\)")


def make_ticket_valid(server: MemcachedServer, namespace: str, attributes: dict[str, str]) -> None:
    key = ",".join(attributes[name] for name in ("sender", "client_address", "recipient"))
    client = Client((server.host, server.port))
    client.set(namespace + key, str(int(time.time()) - 1), expire=100)
    client.close()


def greylist_cycle(
    answer: Callable[[dict[str, str]], list[str]], server: MemcachedServer, namespace: str
) -> list[list[str]]:
    """First attempt, early retry, retry after the wait."""
    attributes = rcpt("192.0.2.77", sender=f"s-{namespace}@example.org")
    first = answer(dict(attributes, instance=uuid.uuid4().hex))
    early = answer(dict(attributes, instance=uuid.uuid4().hex))
    make_ticket_valid(server, namespace, attributes)
    passed = answer(dict(attributes, instance=uuid.uuid4().hex))
    return [first, early, passed]


def check_cycle(answers: list[list[str]]) -> None:
    assert answers[0] == ["action=defer greylisting is active"]
    assert len(answers[1]) == 1 and WAIT.fullmatch(answers[1][0])
    assert answers[2] == ["action=accept"]


def test_greylist_original_defers_waits_and_accepts(
    perl_mtpolicyd: DaemonFactory,
    memcached_server: MemcachedServer,
    mariadb_server: MariaDBServer,
    databases: dict[str, str],
) -> None:
    namespace = f"perl-{uuid.uuid4().hex[:8]}-"
    values = {**daemon_values(mariadb_server, databases["perl"]), "memcached": memcached_server.address}
    daemon = perl_mtpolicyd(SERVER + GREYLIST_2X, namespace=namespace, **values)
    check_cycle(greylist_cycle(daemon.request, memcached_server, namespace))


def test_greylist_engine_defers_waits_and_accepts_like_the_original(
    python_mtpolicyd: DaemonFactory,
    memcached_server: MemcachedServer,
    mariadb_server: MariaDBServer,
    databases: dict[str, str],
) -> None:
    namespace = f"py-{uuid.uuid4().hex[:8]}-"
    values = {
        **daemon_values(mariadb_server, databases["python"]),
        "memcached": memcached_server.address,
        "namespace": namespace,
    }
    check_cycle(
        greylist_cycle(
            lambda attributes: engine_answers(SERVER + GREYLIST_2X, values, [attributes])[0],
            memcached_server,
            namespace,
        )
    )


HONEYPOT_1X = """
memcached_servers = "{memcached}"
memcached_namespace = "{namespace}"
<VirtualHost {port}>
  name = honeypot
  <Plugin trap>
    module = "Honeypot"
    recipients = "trap@example.com"
  </Plugin>
</VirtualHost>
"""


def test_honeypot_1x_traps_clients_in_memcached(memcached_server: MemcachedServer) -> None:
    namespace = f"hp-{uuid.uuid4().hex[:8]}-"
    values = {"memcached": memcached_server.address, "namespace": namespace}
    answers = engine_answers(
        SERVER + HONEYPOT_1X,
        values,
        [rcpt("192.0.2.90"), rcpt("192.0.2.90", recipient="trap@example.com"), rcpt("192.0.2.90")],
    )
    assert answers == [
        ["action=dunno"],
        ["action=reject trapped by honeypod"],
        ["action=reject trapped by honeypod"],
    ]
    client = Client((memcached_server.host, memcached_server.port))
    assert client.get(f"{namespace}trap,192.0.2.90") == b"1"
    client.close()
