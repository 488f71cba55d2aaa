"""The LDAP connection: the original's options; an unreachable server is ConnectionUnavailable."""

from __future__ import annotations

import socket

import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.ldap import LdapConnection
from mtpolicyd_core.errors import ConnectionUnavailable


def test_defaults_follow_the_original() -> None:
    connection = LdapConnection(ConnectionConfig("l", "Ldap", {}))
    settings = (connection.host, connection.port, connection.timeout, connection.starttls)
    assert settings == ("localhost", 389, 120, True)


def test_unreachable_server_is_connection_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {"host": "127.0.0.1", "port": str(port), "timeout": "2", "starttls": "0"}
    with pytest.raises(ConnectionUnavailable, match=f"ldap l \\(127.0.0.1:{port}\\)"):
        _ = LdapConnection(ConnectionConfig("l", "Ldap", options)).handle
