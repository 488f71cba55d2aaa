"""The real-service fixtures start what they promise and stop it again."""

from __future__ import annotations

import socket
from collections.abc import Callable

import sqlalchemy

from integration.fixtures.daemons import render, top_level_keys
from integration.fixtures.mariadb import MariaDBServer
from integration.fixtures.memcached import MemcachedServer, memcached_answers
from integration.fixtures.plugin import DaemonFactory, MariaDBDatabase
from integration.fixtures.rbldnsd import RbldnsdServer, dns_answers
from integration.fixtures.redis import RedisServer, redis_answers

ACTION_CONFIG = """
<VirtualHost {port}>
  name = first
  <Plugin reply>
    module = "Action"
    action = "reject first {word}"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = second
  <Plugin reply>
    module = "Action"
    action = "reject second"
  </Plugin>
</VirtualHost>
"""

RBL_CONFIG = """
<VirtualHost {port}>
  name = rbl
  <Plugin zen>
    module = "RBL"
    domain = "{zone}"
    mode = "reject"
  </Plugin>
</VirtualHost>
"""


def test_render_replaces_only_given_names() -> None:
    assert render(r"a={x} re=\d{1,3} b={y}", {"x": 1}) == r"a=1 re=\d{1,3} b={y}"


def test_top_level_keys_ignore_settings_inside_blocks() -> None:
    assert top_level_keys("user=a\n<Connection x>\n port = 1\n</Connection>\nport=2\n") == {"user", "port"}


def test_memcached_server_restarts_on_the_same_port(memcached_factory: Callable[[], MemcachedServer]) -> None:
    server = memcached_factory()
    assert memcached_answers(server.host, server.port)
    server.kill()
    assert not memcached_answers(server.host, server.port)
    server.start()
    assert memcached_answers(server.host, server.port)


def test_redis_server_answers(redis_server: RedisServer) -> None:
    assert redis_answers(redis_server.host, redis_server.port)


def test_mariadb_database_takes_the_test_user(mariadb_database: MariaDBDatabase) -> None:
    engine = sqlalchemy.create_engine(mariadb_database.url)
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT DATABASE()")).scalar() == mariadb_database.name
    engine.dispose()


def test_mariadb_server_url_names_the_default_database(mariadb_server: MariaDBServer) -> None:
    assert mariadb_server.url.endswith(f":{mariadb_server.port}/mtpolicyd")


def test_perl_daemon_answers_on_every_port(perl_mtpolicyd: DaemonFactory) -> None:
    daemon = perl_mtpolicyd(ACTION_CONFIG, word="hello")
    assert daemon.request({"request": "smtpd_access_policy"}) == ["action=reject first hello"]
    second = daemon.request({"request": "smtpd_access_policy"}, port=daemon.ports[1])
    assert second == ["action=reject second"]
    # each child logs after answering: the first request's line may come after the second's
    daemon.wait_for_log("first: instance=")
    daemon.wait_for_log("second: instance=")


def test_perl_daemon_resolves_through_rbldnsd(
    perl_mtpolicyd: DaemonFactory, rbldnsd_server: Callable[..., RbldnsdServer]
) -> None:
    dnsbl = rbldnsd_server({"bl.test": ":127.0.0.2:listed $\n192.0.2.1\n"})
    assert dns_answers(dnsbl.host, dnsbl.port)
    daemon = perl_mtpolicyd(RBL_CONFIG, zone="bl.test", env=dnsbl.env)
    listed = daemon.request({"request": "smtpd_access_policy", "client_address": "192.0.2.1"})
    clean = daemon.request({"request": "smtpd_access_policy", "client_address": "192.0.2.2"})
    assert listed[0].startswith("action=reject delivery from 192.0.2.1 rejected (")
    assert clean == ["action=dunno"]


def test_python_daemon_answers_on_every_port(python_mtpolicyd: DaemonFactory) -> None:
    daemon = python_mtpolicyd(ACTION_CONFIG, word="hello")
    assert daemon.request({"request": "smtpd_access_policy"}) == ["action=reject first hello"]
    second = daemon.request({"request": "smtpd_access_policy"}, port=daemon.ports[1])
    assert second == ["action=reject second"]


def test_free_port_is_bindable(free_port: Callable[..., int]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
