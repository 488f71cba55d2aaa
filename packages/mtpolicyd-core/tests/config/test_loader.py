"""From config text to the typed model: dialects, globals, back-ends, vhosts, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from mtpolicyd_core.config.loader import load_config, load_config_text
from mtpolicyd_core.config.model import Config
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

UPSTREAM = Path(__file__).parents[4] / "integration" / "configs" / "upstream"


def load(text: str) -> Config:
    return load_config_text(text + VHOST, "test.conf")


def fails(text: str, message: str, line: int | None) -> ConfigError:
    with pytest.raises(ConfigError, match=message) as error:
        load(text)
    assert (error.value.file, error.value.line) == ("test.conf", line)
    return error.value


# -- dialect ---------------------------------------------------------------------------


def test_file_with_connection_block_is_2x() -> None:
    assert load("<Connection db>\nmodule = Sql\ndsn = dbi:SQLite::memory:\n</Connection>\n").dialect == "2"


def test_file_with_1x_globals_is_1x() -> None:
    assert load("memcached_servers = 127.0.0.1:11211\n").dialect == "1"


def test_file_with_neither_is_2x() -> None:
    assert load("log_level = 2\n").dialect == "2"


def test_2x_blocks_win_over_1x_globals_which_are_ignored_with_a_warning() -> None:
    config = load("db_dsn = dbi:mysql:x\n<SessionCache>\nmodule = None\n</SessionCache>\n")
    assert (config.dialect, config.connections) == ("2", ())
    assert any("line 1: 1.x global db_dsn ignored in a 2.x config" in warning for warning in config.warnings)


def test_config_dialect_forces_1x_and_ignores_2x_blocks_with_a_warning() -> None:
    config = load("config_dialect = 1\n<SessionCache>\nmodule = None\n</SessionCache>\n")
    assert config.dialect == "1"
    assert config.session_cache.module == "Memcached"
    assert any("2.x block <SessionCache> ignored in a 1.x config" in warning for warning in config.warnings)


def test_config_dialect_forces_2x_and_ignores_1x_globals_with_a_warning() -> None:
    config = load("config_dialect = 2\nmemcached_servers = 10.0.0.1:11211\n")
    assert (config.dialect, config.session_cache.module, config.connections) == ("2", "None", ())
    assert any("global memcached_servers ignored" in warning for warning in config.warnings)


def test_config_dialect_must_be_1_or_2() -> None:
    fails("config_dialect = 3\n", "config_dialect must be 1 or 2", 1)


def test_dialect_reason_names_the_1x_globals_and_their_lines() -> None:
    config = load("log_level = 2\nmemcached_servers = 127.0.0.1:11211\nsession_lock_wait = 50\n")
    assert config.dialect_reason == "memcached_servers at line 2, session_lock_wait at line 3"
    assert not config.dialect_forced


def test_dialect_reason_names_the_2x_blocks_and_their_lines() -> None:
    config = load("\n<SessionCache>\nmodule = None\n</SessionCache>\n")
    assert config.dialect_reason == "<SessionCache> at line 2"


def test_dialect_reason_of_a_file_with_neither_says_2x_as_perl_2x() -> None:
    assert "as Perl 2.x reads it" in load("log_level = 2\n").dialect_reason


def test_dialect_reason_names_config_dialect_and_its_line() -> None:
    config = load("log_level = 2\nconfig_dialect = 1\n")
    assert (config.dialect, config.dialect_reason, config.dialect_forced) == (
        "1",
        "config_dialect = 1 at line 2",
        True,
    )


def test_dialect_argument_forces_the_dialect_over_config_dialect_with_a_warning() -> None:
    config = load_config_text(
        "config_dialect = 1\nmemcached_servers = x:1\n" + VHOST, "test.conf", dialect="2"
    )
    assert (config.dialect, config.dialect_reason) == ("2", "--dialect 2 on the command line")
    assert (config.session_cache.module, config.connections) == ("None", ())
    assert any(
        "line 1: config_dialect = 1 overridden by --dialect 2" in warning for warning in config.warnings
    )


def test_dialect_argument_forces_1x_on_a_file_without_globals() -> None:
    config = load_config_text(VHOST, "test.conf", dialect="1")
    assert (config.dialect, config.session_cache.module) == ("1", "Memcached")


def test_1x_global_in_a_2x_config_warns_with_what_1x_would_do() -> None:
    config = load(
        "memcached_servers = 10.0.0.1:11211\n"
        "<Connection db>\nmodule = Sql\ndsn = dbi:SQLite::memory:\n</Connection>\n"
    )
    (warning,) = [text for text in config.warnings if "memcached_servers" in text]
    assert warning.startswith("test.conf line 1: 1.x global memcached_servers ignored in a 2.x config")
    assert "read as 1.x it would keep sessions in memcached at 10.0.0.1:11211" in warning
    assert "no <SessionCache>, so no session is kept" in warning


def test_2x_block_in_a_1x_config_warns_with_what_2x_would_do() -> None:
    config = load("config_dialect = 1\n<Connection cache>\nmodule = Redis\n</Connection>\n")
    (warning,) = [text for text in config.warnings if "<Connection cache>" in text]
    assert warning.startswith("test.conf line 2: 2.x block <Connection cache> ignored in a 1.x config")
    assert "read as 2.x it would define connection cache (module Redis)" in warning


def test_1x_session_cache_is_located_at_memcached_servers() -> None:
    config = load("log_level = 2\nmemcached_servers = 127.0.0.1:11211\n")
    assert config.session_cache.location is not None and config.session_cache.location.line == 2


@pytest.mark.parametrize(
    ("name", "dialect", "reason"),
    [
        ("t-data-2.05-minimal.conf", "2", "<Connection memcached> at line 12, <SessionCache> at line 18"),
        ("t-data-2.05-spamhaus-rbls.conf", "1", "db_dsn at line 13, db_user at line 14"),
        ("t-data-2.05-vhost-by-policy-context.conf", "1", "memcached_servers at line 18"),
    ],
)
def test_upstream_2_05_test_configs_name_their_dialect_evidence(name: str, dialect: str, reason: str) -> None:
    text = (
        (UPSTREAM / name).read_text().replace("[% port %]", "12345").replace("[% memcached_port %]", "11211")
    )
    config = load_config_text(text, name)
    assert config.dialect == dialect
    assert reason in config.dialect_reason


# -- 1.x back-ends ---------------------------------------------------------------------


def test_1x_defaults_use_memcached_sessions() -> None:
    config = load("session_lock_wait = 50\n")
    (memcached,) = config.connections
    assert (memcached.name, memcached.module) == ("memcached", "Memcached")
    assert memcached.options == {"servers": "127.0.0.1:11211", "namespace": "mt-"}
    cache = config.session_cache
    assert (cache.module, cache.connection, cache.namespace) == ("Memcached", "memcached", "mt-")
    assert (cache.expire, cache.lock_wait, cache.lock_max_retry, cache.lock_timeout) == (300, 50, 50, 10)


def test_1x_memcached_and_lock_settings() -> None:
    config = load(
        "memcached_servers = a:1, b:2\nmemcached_namespace = ns-\nmemcached_expire = 60\n"
        "session_lock_wait = 5\nsession_lock_max_retry = 7\nsession_lock_timeout = 3\n"
    )
    assert config.connections[0].options == {"servers": "a:1, b:2", "namespace": "ns-"}
    cache = config.session_cache
    assert (cache.namespace, cache.expire, cache.lock_wait, cache.lock_max_retry, cache.lock_timeout) == (
        "ns-",
        60,
        5,
        7,
        3,
    )


def test_1x_db_dsn_becomes_the_db_connection() -> None:
    config = load("db_dsn = dbi:mysql:database=mail;host=db\ndb_user = mt\ndb_password = s3cr:t\n")
    db = config.connection("db")
    assert db is not None and db.module == "Sql"
    assert db.options == {
        "dsn": "dbi:mysql:database=mail;host=db",
        "url": "mysql+pymysql://mt:s3cr%3At@db/mail",
        "user": "mt",
        "password": "s3cr:t",
    }


def test_1x_empty_db_dsn_means_no_database() -> None:
    assert load("db_dsn =\ndb_user =\n").connection("db") is None


def test_bad_dsn_names_its_line() -> None:
    fails("log_level = 1\ndb_dsn = dbi:Oracle:x\n", "db_dsn: unsupported DBI driver Oracle", 2)


def test_1x_lock_settings_must_be_integers() -> None:
    fails("session_lock_wait = soon\n", "session_lock_wait must be an integer", 1)


# -- 2.x back-ends ---------------------------------------------------------------------


def test_2x_connections_keep_options_and_translate_dsn() -> None:
    config = load(
        '<Connection memcached>\nmodule = "Memcached"\nservers = "m:11211"\nnamespace = "x-"\n</Connection>\n'
        '<Connection db>\nmodule = "Sql"\ndsn = "dbi:SQLite:dbname=/tmp/x.db"\n</Connection>\n'
    )
    memcached, db = config.connections
    assert (memcached.name, memcached.module, dict(memcached.options)) == (
        "memcached",
        "Memcached",
        {"servers": "m:11211", "namespace": "x-"},
    )
    assert memcached.location is not None and memcached.location.line == 1
    assert db.options["url"] == "sqlite:////tmp/x.db"


def test_2x_connection_without_module_is_an_error() -> None:
    fails("<Connection db>\ndsn = x\n</Connection>\n", "no module defined for connection db!", 1)


def test_2x_without_session_cache_has_none() -> None:
    config = load("<Connection db>\nmodule = Sql\ndsn = dbi:SQLite:\n</Connection>\n")
    assert config.session_cache.module == "None"


def test_2x_memcached_session_cache_takes_namespace_from_its_connection() -> None:
    config = load(
        "<Connection memcached>\nmodule = Memcached\nnamespace = mt-\n</Connection>\n"
        "<SessionCache>\nmodule = Memcached\nexpire = 600\nlock_wait = 10\n</SessionCache>\n"
    )
    cache = config.session_cache
    assert (cache.module, cache.connection, cache.namespace, cache.expire, cache.lock_wait) == (
        "Memcached",
        "memcached",
        "mt-",
        600,
        10,
    )
    assert cache.location is not None and cache.location.line == 5


@pytest.mark.parametrize(
    ("settings", "connection"),
    [
        ("module = Redis", "redis"),
        ("module = Redis\nredis = cache", "cache"),
        ("module = Memcached\nmemcached = sessions", "sessions"),
        ("module = Sql\nconnection = db", "db"),
        ("module = None", None),
    ],
)
def test_2x_session_cache_connection_name(settings: str, connection: str | None) -> None:
    config = load(f"<SessionCache>\n{settings}\n</SessionCache>\n")
    assert config.session_cache.connection == connection


def test_2x_session_cache_without_module_is_an_error() -> None:
    fails("<SessionCache>\nexpire = 3\n</SessionCache>\n", "no module defined for SessionCache!", 1)


def test_2x_session_cache_numbers_must_be_integers() -> None:
    fails(
        "<SessionCache>\nmodule = Redis\nexpire = 5m\n</SessionCache>\n",
        "SessionCache: expire must be an integer",
        3,
    )


# -- session failure policy ------------------------------------------------------------


def test_session_failure_defaults_to_close() -> None:
    cache = load("").session_cache
    assert cache.failure_mode == "close"
    assert cache.failure_action == "defer_if_permit Service temporarily unavailable"


def test_session_failure_globals() -> None:
    cache = load('session_failure = action\nsession_failure_action = "dunno"\n').session_cache
    assert (cache.failure_mode, cache.failure_action) == ("action", "dunno")


def test_session_failure_in_session_cache_block_wins() -> None:
    cache = load(
        "session_failure = close\n<SessionCache>\nmodule = Redis\nfailure_mode = continue\n</SessionCache>\n"
    ).session_cache
    assert cache.failure_mode == "continue"


def test_session_failure_in_1x_dialect() -> None:
    config = load("memcached_expire = 10\nsession_failure = continue\n")
    assert config.session_cache.failure_mode == "continue"


def test_unknown_session_failure_mode() -> None:
    fails("session_failure = panic\n", "session_failure must be one of close, continue, action", 1)


def test_session_failure_action_must_not_be_empty() -> None:
    fails('session_failure = action\nsession_failure_action = ""\n', "needs a session_failure_action", 2)


# -- server globals --------------------------------------------------------------------


def test_server_defaults_match_the_original() -> None:
    server = load("").server
    assert (server.host, server.ports, server.log_level) == ("127.0.0.1", ("127.0.0.1:12345",), 2)
    assert (server.min_servers, server.min_spare_servers, server.max_spare_servers, server.max_servers) == (
        4,
        4,
        12,
        25,
    )
    assert (server.max_requests, server.request_timeout, server.keepalive_timeout, server.max_keepalive) == (
        1000,
        20,
        60,
        0,
    )
    assert server.vhost_by_policy_context is False


def test_server_globals_are_read() -> None:
    server = load(
        "user = mt\ngroup = mt\npid_file = /run/mt.pid\nlog_level = 4\nhost = 0.0.0.0\n"
        "port = 127.0.0.1:12345, 12346 ,[::1]:12347\nmax_servers = 50\nmax_keepalive = 100\n"
        "vhost_by_policy_context = 1\nmax_line_length = 100\nmax_request_size = 1000\n"
        "max_request_attributes = 10\nread_timeout = 5\nprogram_name = mtpd\n"
    ).server
    assert (server.user, server.group, server.pid_file, server.log_level, server.host) == (
        "mt",
        "mt",
        "/run/mt.pid",
        4,
        "0.0.0.0",
    )
    assert server.ports == ("127.0.0.1:12345", "12346", "[::1]:12347")
    assert (server.max_servers, server.max_keepalive, server.vhost_by_policy_context) == (50, 100, True)
    assert (server.max_line_length, server.max_request_size, server.max_request_attributes) == (100, 1000, 10)
    assert (server.read_timeout, server.program_name) == (5, "mtpd")


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("log_level = 1\nmax_servers = many\n", "max_servers must be an integer, not 'many'", 2),
        ("log_level = 5\n", r"log_level must be 0 \(err\) to 4 \(debug\)", 1),
        ("max_spare_servers = 25\n", '"max_spare_servers" must be less than "max_servers"', 1),
        ("min_spare_servers = 5\n", r'"min_spare_servers" \(5\) must not be more than "min_servers"', 1),
        ("min_servers = 30\nmax_servers = 20\nmax_spare_servers = 10\n", '"min_servers" .30. must not be', 1),
        ("port = 12345,abc\n", "port: 'abc' is not", 1),
        ("read_timeout = 0\n", "read_timeout must be a positive integer", 1),
        ("max_concurrent_requests = 0\n", "max_concurrent_requests must be a positive integer", 1),
        ("worker_threads = 0\n", "worker_threads must be a positive integer", 1),
        ("dns_cache_size = -1\n", "dns_cache_size must not be negative", 1),
    ],
)
def test_server_validation(text: str, message: str, line: int) -> None:
    fails(text, message, line)


def test_concurrency_settings_have_defaults_and_can_be_set() -> None:
    assert (load("").server.max_concurrent_requests, load("").server.worker_threads) == (100, 16)
    server = load(
        "max_concurrent_requests = 7\nworker_threads = 3\ndns_cache_size = 0\ndns_cache_max_ttl = 60\n"
    ).server
    assert (server.max_concurrent_requests, server.worker_threads) == (7, 3)
    assert (server.dns_cache_size, server.dns_cache_max_ttl) == (0, 60)


def test_unknown_global_is_a_warning_not_an_error() -> None:
    config = load("colour = blue\n<Extra>\n</Extra>\n")
    assert config.warnings == (
        "test.conf line 1: unknown global option colour ignored",
        "test.conf line 2: unknown block <Extra> ignored",
    )


# -- virtual hosts ---------------------------------------------------------------------


def test_vhosts_in_file_order_with_plugin_blocks() -> None:
    config = load_config_text(
        "<VirtualHost 2>\nname = b\n<Plugin x>\nmodule = Action\n</Plugin>\n<Plugin y>\nmodule = Action\n"
        "</Plugin>\n</VirtualHost>\n<VirtualHost 1>\nname = a\n<Plugin z>\nmodule = Action\n</Plugin>\n"
        "</VirtualHost>\n",
        "test.conf",
    )
    found = [(vhost.port, vhost.name, [plugin.name for plugin in vhost.plugins]) for vhost in config.vhosts]
    assert found == [("2", "b", ["x", "y"]), ("1", "a", ["z"])]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("log_level = 2\n", "no virtual hosts configured!", None),
        ("<VirtualHost>\nname = a\n</VirtualHost>\n", r"<VirtualHost> needs a port", 1),
        ("<VirtualHost abc>\nname = a\n</VirtualHost>\n", r"<VirtualHost abc>: the port must be a number", 1),
        ("\n<VirtualHost 1>\n<Plugin a>\nmodule = Action\n</Plugin>\n</VirtualHost>\n", "needs a name", 2),
        ("<VirtualHost 1>\nname = a\n</VirtualHost>\n", r"no <Plugin> defined for <VirtualHost> on port", 1),
    ],
)
def test_vhost_validation(text: str, message: str, line: int | None) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_config_text(text, "test.conf")
    assert (error.value.file, error.value.line) == ("test.conf", line)


def test_unknown_vhost_option_is_a_warning() -> None:
    config = load_config_text(VHOST.replace('name = "reputation"', 'name = "r"\ncolour = x'), "test.conf")
    assert config.warnings == ("test.conf line 4: <VirtualHost 12345>: unknown option colour ignored",)


@pytest.mark.parametrize(
    ("value", "parallel"), [("on", True), ("yes", True), ("1", True), ("off", False), ("0", False)]
)
def test_parallel_dns_is_a_vhost_switch(value: str, parallel: bool) -> None:
    config = load_config_text(
        VHOST.replace('name = "reputation"', f"name = r\nparallel_dns = {value}"), "test.conf"
    )
    assert config.vhosts[0].parallel_dns is parallel
    assert config.warnings == ()


def test_parallel_dns_is_off_by_default_and_rejects_other_words() -> None:
    assert load_config_text(VHOST, "test.conf").vhosts[0].parallel_dns is False
    with pytest.raises(
        ConfigError, match=r"parallel_dns: 'sometimes' is not a boolean \(use 1 or 0, on or off\)"
    ) as error:
        load_config_text(
            VHOST.replace('name = "reputation"', "name = r\nparallel_dns = sometimes"), "test.conf"
        )
    assert error.value.line == 4


# -- the upstream example configs ------------------------------------------------------


def test_upstream_1_17_example_loads_as_1x() -> None:
    config = load_config(str(UPSTREAM / "mtpolicyd-1.17.conf"))
    assert config.dialect == "1" and config.session_cache.module == "Memcached"
    assert [vhost.name for vhost in config.vhosts] == ["reputation"]
    assert len(config.vhosts[0].plugins) == 20


def test_upstream_2_05_example_loads_as_2x() -> None:
    config = load_config(str(UPSTREAM / "mtpolicyd-2.05.conf"))
    assert config.dialect == "2"
    assert [conn.name for conn in config.connections] == ["memcached", "db"]
    assert (config.session_cache.module, config.session_cache.connection) == ("Memcached", "memcached")
    assert config.warnings == ()


# -- listening ports and virtual hosts ---------------------------------------------------


@pytest.mark.parametrize("port", ["0", "65536", "127.0.0.1:99999"])
def test_port_number_out_of_range_is_an_error_naming_the_line(port: str) -> None:
    fails(f"log_level = 2\nport = 12345,{port}\n", "the port number must be 1 to 65535", 2)


LOST_VHOST = "<VirtualHost {port}>\nname = {name}\n<Plugin a>\nmodule = Action\n</Plugin>\n</VirtualHost>\n"


def test_vhost_whose_port_is_not_listened_on_is_a_warning() -> None:
    config = load("port = 127.0.0.1:12345\n" + LOST_VHOST.format(port=12346, name="lost"))
    expected = "port 12346 is not listened on (127.0.0.1:12345): its plugins never run"
    assert f"test.conf line 2: <VirtualHost 12346>: {expected}" in config.warnings


def test_vhost_reached_only_by_policy_context_says_so() -> None:
    config = load("vhost_by_policy_context = 1\n" + LOST_VHOST.format(port=0, name="horst"))
    expected = "reached only by a request whose policy_context is 'horst'"
    assert any(expected in warning for warning in config.warnings)


def test_listened_port_without_vhost_is_a_warning_naming_the_port_line() -> None:
    config = load("log_level = 2\nport = 127.0.0.1:12345,127.0.0.1:12399\n")
    expected = "port 12399 has no <VirtualHost 12399>: a request arriving there is closed unanswered"
    assert f"test.conf line 2: {expected}" in config.warnings
