"""Connection options are declared like plugin options: typed, checked at load with file and line."""

from __future__ import annotations

import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.config.model import Config, ConnectionConfig
from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.connections.configured import ConfiguredConnection
from mtpolicyd_core.connections.ldap import LdapConnection
from mtpolicyd_core.connections.memcached import MemcachedConnection
from mtpolicyd_core.connections.pool import CONNECTION_MODULES, ConnectionPool
from mtpolicyd_core.connections.redis import RedisConnection
from mtpolicyd_core.connections.sql import SqlConnection
from mtpolicyd_core.errors import ConfigError

VHOST = """
<VirtualHost 12345>
  name = "reputation"
  <Plugin reject>
    module = "Action"
    action = "reject test"
  </Plugin>
</VirtualHost>
"""


def connection(module: str, *lines: str) -> str:
    body = "".join(f"  {line}\n" for line in lines)
    return f'<Connection c>\n  module = "{module}"\n{body}</Connection>\n'


def load(text: str) -> Config:
    return load_config_text(text + VHOST, "test.conf")


def fails_at(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load(text)
    assert (error.value.file, error.value.line) == ("test.conf", line)


@pytest.mark.parametrize("module", ["Memcached", "Redis", "Sql"])
def test_a_timeout_that_is_no_number_is_an_error_at_its_line(module: str) -> None:
    extra = ['dsn = "dbi:SQLite:dbname=/tmp/x.db"'] if module == "Sql" else []
    fails_at(
        connection(module, *extra, "timeout = soon"),
        3 + len(extra),
        rf"connection c \({module}\): option timeout: expected Num: 'soon' is not a number",
    )


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        (["timeout = 0"], 3, "is not a positive number of seconds"),
        (["db = two"], 3, "option db: expected Int"),
        (["db = 1", "cluster = 127.0.0.1:7000"], 3, "a Redis Cluster has only database 0"),
        (["cluster = 127.0.0.1:7000", "sock = /run/redis.sock"], 4, "sock and cluster exclude each other"),
        (["cluster = 127.0.0.1:70000"], 3, "cluster: cannot read '127.0.0.1:70000'"),
        (["sentinels = a:1,b:x", "service = mymaster"], 3, "sentinels: cannot read 'b:x'"),
        (["server = 'a b'"], 3, "server: cannot read"),
        (["failover_timeout = -1"], 3, "failover_timeout must not be negative"),
    ],
)
def test_redis_options_are_checked_at_their_line(lines: list[str], line: int, message: str) -> None:
    fails_at(connection("Redis", *lines), line, message)


def test_memcached_server_list_is_checked_at_load() -> None:
    fails_at(
        connection("Memcached", "servers = 127.0.0.1:99999"), 3, "servers: cannot read '127.0.0.1:99999'"
    )


def test_1x_memcached_servers_are_checked_at_their_global_line() -> None:
    with pytest.raises(ConfigError, match="cannot read 'x:y'") as error:
        load("log_level = 2\nmemcached_servers = x:y\n")
    assert error.value.line == 2


def test_sql_pool_cannot_be_empty() -> None:
    fails_at(
        connection("Sql", "dsn = dbi:SQLite:dbname=/tmp/x.db", "pool_size = 0", "max_overflow = 0"),
        4,
        "pool_size and max_overflow cannot both be 0",
    )


def test_unknown_connection_option_is_a_warning_as_the_original_ignores_it() -> None:
    config = load(connection("Redis", "server = 127.0.0.1:6379", "colour = blue"))
    assert "test.conf line 4: connection c: unknown option colour ignored" in config.warnings


def test_derived_url_of_a_dsn_is_no_unknown_option() -> None:
    config = load(connection("Sql", "dsn = dbi:SQLite:dbname=/tmp/x.db", "user = mt"))
    assert not [warning for warning in config.warnings if "unknown option" in warning]


def test_original_options_are_all_declared() -> None:
    """The options of mtpolicyd 2.05's connection classes (Moose attributes) are all known."""
    original = {
        MemcachedConnection: {"servers", "debug", "namespace"},
        RedisConnection: {"server", "sock", "sentinels", "service", "debug", "password", "db"},
        SqlConnection: {"dsn", "user", "password"},
        LdapConnection: {
            "host",
            "port",
            "keepalive",
            "timeout",
            "binddn",
            "password",
            "starttls",
            "connection_class",
        },
    }
    for cls, names in original.items():
        assert names <= {option.name for option in cls.declared()}, cls.__name__


def test_every_module_is_a_configured_connection_naming_its_module() -> None:
    for module in CONNECTION_MODULES:
        built = ConnectionPool(
            [ConnectionConfig("c", module, {"url": "sqlite://"} if module == "Sql" else {})]
        ).get("c")
        assert isinstance(built, ConfiguredConnection)
        assert type(built).module == module


def test_effective_values_are_typed() -> None:
    redis = RedisConnection(ConnectionConfig("r", "Redis", {"timeout": "2.5", "db": "3"}))
    assert (redis.timeout, redis.db, redis.failover_timeout) == (2.5, 3, 2.0)
    assert redis.option_values()["server"] == "127.0.0.1:6379"


def test_error_without_a_file_still_names_the_connection() -> None:
    with pytest.raises(ConfigError, match=r"^x.conf line 7: connection r \(Redis\): option timeout"):
        RedisConnection(
            ConnectionConfig(
                "r", "Redis", {"timeout": "soon"}, Location("x.conf", 5), {"timeout": Location("x.conf", 7)}
            )
        )
