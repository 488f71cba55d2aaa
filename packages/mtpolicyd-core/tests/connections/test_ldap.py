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


def test_failed_bind_is_logged_and_the_connection_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Net::LDAP's bind returns an error message the original does not look at: searches go on unbound
    ldap3 = pytest.importorskip("ldap3")
    real = ldap3.Connection

    def mock_directory(server: object, **options: object) -> object:
        connection = real(server, client_strategy=ldap3.MOCK_SYNC, **options)
        connection.strategy.add_entry("cn=admin,dc=example", {"userPassword": "right", "sn": "admin"})
        return connection

    monkeypatch.setattr(ldap3, "Connection", mock_directory)
    options = {"binddn": "cn=admin,dc=example", "password": "wrong", "starttls": "0"}
    connection = LdapConnection(ConnectionConfig("l", "Ldap", options))
    assert not connection.handle.bound
    assert "ldap l (localhost:389): bind failed" in caplog.text
