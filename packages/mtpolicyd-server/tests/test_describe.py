"""``mtpolicyd -d``: what the engine understood, every option with its effective value."""

from __future__ import annotations

import asyncio

from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_server.describe import describe_engine

CONFIG = """\
colour = blue
<Connection db>
  module = "Sql"
  dsn = "dbi:SQLite::memory:"
  user = "mt"
  password = "secret"
</Connection>
<VirtualHost 12345>
  name = "reputation"
  <Plugin tag>
    module = "Action"
    action = "PREPEND X-Test: yes"
    frobnicate = 1
  </Plugin>
  <Plugin high-score>
    module = "ScoreAction"
    threshold = 5
    uc_threshold = "user_threshold"
    <Plugin inner>
      module = "Action"
      action = "reject spam"
    </Plugin>
  </Plugin>
</VirtualHost>
"""


def describe(text: str = CONFIG) -> str:
    engine = PolicyEngine(load_config_text(text, "test.conf"))
    try:
        return describe_engine(engine)
    finally:
        asyncio.run(engine.aclose())


def test_describe_starts_with_dialect_and_server_settings() -> None:
    lines = describe().splitlines()
    assert lines[:4] == [
        "# configuration file test.conf",
        "# dialect 2.x: <Connection db> at line 2",
        "",
        "# server settings",
    ]
    assert 'port = "127.0.0.1:12345"' in lines
    assert "max_servers = 25" in lines


def test_describe_shows_connections_with_secrets_hidden() -> None:
    text = describe()
    assert '<Connection db>   # test.conf line 2\n  module = "Sql"\n' in text
    assert "secret" not in text
    assert '  password = "********"' in text


def test_describe_shows_session_cache() -> None:
    assert '<SessionCache>\n  module = "None"\n' in describe()


def test_describe_marks_set_and_default_option_values() -> None:
    text = describe()
    assert '  <Plugin tag>   # test.conf line 10\n    module = "Action"\n' in text
    assert '    action = "PREPEND X-Test: yes"   # set, line 12\n' in text
    assert "    on_error = (unset)   # default\n" in text


def test_describe_shows_user_config_and_nested_chain_indented() -> None:
    text = describe()
    assert '    uc_threshold = "user_threshold"   # user config: session field overrides it\n' in text
    assert '    <Plugin inner>   # test.conf line 19\n      module = "Action"\n' in text
    assert "    threshold = 5   # set, line 17\n" in text


def test_describe_lists_config_and_plugin_warnings() -> None:
    text = describe()
    assert "# 2 warning(s)\n" in text
    assert "# warning: test.conf line 1: unknown global option colour ignored\n" in text
    assert "plugin tag: unknown option frobnicate ignored" in text


def test_describe_is_stable() -> None:
    assert describe() == describe()


def test_describe_shows_the_resolver_and_each_vhost_parallel_dns_switch() -> None:
    text = describe()
    assert "# DNS resolver of each worker" in text
    assert "nameservers " in text
    assert "  parallel_dns = off\n" in text


def test_describe_shows_every_declared_connection_option_with_its_origin() -> None:
    text = describe()
    assert '  user = "mt"   # set, line 5\n' in text
    assert "  pool_size = 3   # default\n" in text
    assert "  timeout = 5   # default\n" in text
