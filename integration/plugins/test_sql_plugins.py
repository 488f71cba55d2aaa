"""SqlList, SqlUserConfig, Accounting and Quota against a real MariaDB; SqlList and
Accounting/Quota also differentially against the Perl original (Debian 2.05)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pymysql
import pytest
from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from sqlalchemy import create_engine, text

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.mariadb import MariaDBServer
from integration.fixtures.plugin import DaemonFactory

SERVER = """
min_servers = 1
min_spare_servers = 1
max_spare_servers = 2
max_servers = 3
"""

DB_CONNECTION = """
<Connection db>
  module = "Sql"
  dsn = "{dsn}"
  user = "{user}"
  password = "{password}"
</Connection>
"""


def rcpt(client_address: str, **attributes: str) -> dict[str, str]:
    """A RCPT request from ``client_address``."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "client_address": client_address,
        "sender": "sender@example.org",
        "recipient": "rcpt@example.com",
        "instance": uuid.uuid4().hex[:12],
        **attributes,
    }


@pytest.fixture
def databases(mariadb_server: MariaDBServer) -> Iterator[dict[str, str]]:
    """One fresh database per daemon (``perl``, ``python``, ``unit``), dropped afterwards."""
    names = {who: f"plugins_{who}_{uuid.uuid4().hex[:8]}" for who in ("perl", "python", "unit")}
    for name in names.values():
        mariadb_server.create_database(name)
    yield names
    for name in names.values():
        mariadb_server.drop_database(name)


def run_sql(server: MariaDBServer, database: str, *statements: str) -> None:
    """Run statements as the test user."""
    with (
        pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            database=database,
            autocommit=True,
        ) as conn,
        conn.cursor() as cursor,
    ):
        for statement in statements:
            cursor.execute(statement)


async def plugin_on(server: MariaDBServer, database: str, module: str, **settings: str) -> Plugin:
    """A plugin built in-process on a real ``db`` connection, started (its tables created)."""
    where = Location("test.conf", 1)
    connection = ConnectionConfig("db", "Sql", {"url": server.url_for(database)})
    pool = ConnectionPool([connection])
    block = Block(
        "Plugin", "p", where, tuple(Setting(k, v, where) for k, v in {"module": module, **settings}.items())
    )
    chain = build_chain([block], PluginContext("test", "2", pool, build_chain))
    await chain.startup()
    return chain.plugins[0]


def daemon_values(server: MariaDBServer, database: str) -> dict[str, str]:
    return {"dsn": server.dsn_for(database), "user": server.user, "password": server.password}


WHITELIST = [
    "CREATE TABLE whitelist (client_ip INT UNSIGNED NOT NULL PRIMARY KEY)",
    "INSERT INTO whitelist VALUES (INET_ATON('192.0.2.1'))",
]


async def test_sql_list_default_query_uses_mariadb_inet_aton(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    run_sql(mariadb_server, databases["unit"], *WHITELIST)
    plugin = await plugin_on(
        mariadb_server, databases["unit"], "SqlList", match_action="accept", not_match_action="reject"
    )
    assert await plugin.run(Request({"client_address": "192.0.2.1"}, {})) == [
        PluginResult("accept", abort=True)
    ]
    assert await plugin.run(Request({"client_address": "192.0.2.2"}, {})) == [
        PluginResult("reject", abort=True)
    ]


async def test_sql_list_binds_placeholders_with_percent_signs_on_mariadb(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    run_sql(
        mariadb_server, databases["unit"], "CREATE TABLE l (v VARCHAR(64))", "INSERT INTO l VALUES ('a%b?')"
    )
    plugin = await plugin_on(
        mariadb_server,
        databases["unit"],
        "SqlList",
        sql_query="SELECT v FROM l WHERE v LIKE '%?' AND v=? -- ?",
        field="sender",
        match_action="accept",
    )
    assert await plugin.run(Request({"sender": "a%b?"}, {})) == [PluginResult("accept", abort=True)]
    assert await plugin.run(Request({"sender": "a%b"}, {})) == []


async def test_sql_user_config_reads_json_from_mariadb(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    config = json.dumps({"greylisting": "off"})
    run_sql(
        mariadb_server,
        databases["unit"],
        "CREATE TABLE user_config (address VARCHAR(255), config TEXT)",
        f"INSERT INTO user_config VALUES ('user@example.com', '{config}')",
    )
    session: dict[str, object] = {}
    await (await plugin_on(mariadb_server, databases["unit"], "SqlUserConfig")).run(
        Request({"recipient": "user@example.com"}, session)
    )
    assert session == {"greylisting": "off"}


async def test_accounting_creates_myisam_tables_on_mariadb(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    plugin = await plugin_on(
        mariadb_server, databases["unit"], "Accounting", fields="client_address", mysql_engine="InnoDB"
    )
    for _ in range(3):
        await plugin.run(Request(rcpt("192.0.2.7", size="100", recipient_count="2"), None))
    engine = create_engine(mariadb_server.url_for(databases["unit"]))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT count, count_rcpt, size, size_rcpt FROM acct_client_address")).one()
        table_engine = conn.execute(
            text("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA=:db AND TABLE_NAME=:name"),
            {"db": databases["unit"], "name": "acct_client_address"},
        ).scalar_one()
    engine.dispose()
    assert tuple(row) == (3, 6, 300, 600)
    assert table_engine == "InnoDB"


SQL_LIST_VHOST = """
<VirtualHost {port}>
  name = sqllist
  <Plugin whitelist>
    module = "SqlList"
    match_action = "accept whitelisted"
    not_match_action = "reject not on the list"
  </Plugin>
</VirtualHost>
"""


def answers(daemon: MtpolicydDaemon, requests: list[dict[str, str]]) -> list[list[str]]:
    return [daemon.request(attributes) for attributes in requests]


def test_sql_list_answers_like_the_original(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    mariadb_server: MariaDBServer,
    databases: dict[str, str],
) -> None:
    requests = [rcpt("192.0.2.1"), rcpt("192.0.2.2"), rcpt("192.0.2.1", instance="")]
    expected = [
        ["action=accept whitelisted"],
        ["action=reject not on the list"],
        ["action=accept whitelisted"],
    ]
    config = SERVER + DB_CONNECTION + SQL_LIST_VHOST
    for who, factory in (("perl", perl_mtpolicyd), ("python", python_mtpolicyd)):
        run_sql(mariadb_server, databases[who], *WHITELIST)
        daemon = factory(config, **daemon_values(mariadb_server, databases[who]))
        assert answers(daemon, requests) == expected, who
        daemon.stop()


ACCOUNTING_VHOST = """
<VirtualHost {port}>
  name = quota
  <Plugin acct>
    module = "Accounting"
    fields = "client_address,sender"
  </Plugin>
  <Plugin quota>
    module = "Quota"
    field = "client_address"
    metric = "count_rcpt"
    threshold = 5
  </Plugin>
  <Plugin size-quota>
    module = "Quota"
    field = "sender"
    metric = "size"
    threshold = 250
    action = "reject too much data"
  </Plugin>
</VirtualHost>
"""


def test_accounting_and_quota_answer_like_the_original(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    mariadb_server: MariaDBServer,
    databases: dict[str, str],
) -> None:
    requests = [
        rcpt("192.0.2.5", recipient_count="2", size="100"),
        rcpt("192.0.2.5", recipient_count="2", size="100"),
        rcpt("192.0.2.6", recipient_count="1", size="100"),
        rcpt("192.0.2.5", recipient_count="1", size="10"),
        rcpt("192.0.2.7", recipient_count="1", size="1", sender="other@example.org"),
    ]
    expected = [
        ["action=dunno"],
        ["action=dunno"],
        ["action=reject too much data"],
        ["action=defer smtp traffic quota has been exceeded"],
        ["action=dunno"],
    ]
    config = SERVER + DB_CONNECTION + ACCOUNTING_VHOST
    tables = {}
    for who, factory in (("perl", perl_mtpolicyd), ("python", python_mtpolicyd)):
        daemon = factory(config, **daemon_values(mariadb_server, databases[who]))
        assert answers(daemon, requests) == expected, who
        daemon.stop()
        engine = create_engine(mariadb_server.url_for(databases[who]))
        with engine.connect() as conn:
            tables[who] = [
                tuple(row)
                for row in conn.execute(
                    text(
                        "SELECT `key`, count, count_rcpt, size, size_rcpt FROM acct_client_address ORDER BY 1"
                    )
                )
            ]
        engine.dispose()
    assert tables["python"] == tables["perl"]


def engine_answers(config: str, values: dict[str, str], requests: list[dict[str, str]]) -> list[list[str]]:
    """Our answers through the policy engine in-process (no server process)."""
    text_ = config.replace("{port}", "12345")
    for key, value in values.items():
        text_ = text_.replace("{" + key + "}", value)
    return asyncio.run(answers_of(PolicyEngine(load_config_text(text_)), requests))


async def answers_of(engine: PolicyEngine, requests: list[dict[str, str]]) -> list[list[str]]:
    """Start the engine, answer ``requests`` in turn, close it."""
    await engine.startup()
    vhost = engine.vhosts[0]
    try:
        return [
            (await engine.process(vhost, attributes)).as_policyd_response().split("\n")[:-2]
            for attributes in requests
        ]
    finally:
        await engine.aclose()


def test_accounting_and_quota_engine_gives_the_originals_answers(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    requests = [
        rcpt("192.0.2.5", recipient_count="2", size="100"),
        rcpt("192.0.2.5", recipient_count="2", size="100"),
        rcpt("192.0.2.6", recipient_count="1", size="100"),
        rcpt("192.0.2.5", recipient_count="1", size="10"),
    ]
    assert engine_answers(
        SERVER + DB_CONNECTION + ACCOUNTING_VHOST,
        daemon_values(mariadb_server, databases["python"]),
        requests,
    ) == [
        ["action=dunno"],
        ["action=dunno"],
        ["action=reject too much data"],
        ["action=defer smtp traffic quota has been exceeded"],
    ]


def test_sql_list_engine_gives_the_originals_answers(
    mariadb_server: MariaDBServer, databases: dict[str, str]
) -> None:
    run_sql(mariadb_server, databases["python"], *WHITELIST)
    requests = [rcpt("192.0.2.1"), rcpt("192.0.2.2")]
    assert engine_answers(
        SERVER + DB_CONNECTION + SQL_LIST_VHOST, daemon_values(mariadb_server, databases["python"]), requests
    ) == [["action=accept whitelisted"], ["action=reject not on the list"]]
