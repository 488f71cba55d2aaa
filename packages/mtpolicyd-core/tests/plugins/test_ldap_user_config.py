import socket
from collections.abc import Awaitable, Callable

import ldap3
import pytest
from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import ConfigError, ConnectionUnavailable
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.ldap_user_config import escape_filter_value
from mtpolicyd_core.request import Request, Session

from plugins.connection_fakes import build, pool_of


@pytest.fixture
def directory() -> ldap3.Connection:
    """ldap3's own mock strategy: an in-memory directory."""
    connection = ldap3.Connection(
        ldap3.Server("fake"), user="cn=admin,dc=example", password="x", client_strategy=ldap3.MOCK_SYNC
    )
    connection.strategy.add_entry("cn=admin,dc=example", {"userPassword": "x", "sn": "admin"})
    connection.strategy.add_entry(
        "uid=karl,ou=users,dc=example",
        {
            "uid": "karl",
            "mail": "karl@example.com",
            "mtsaUserConfig": "on",
            "mtsaScore": "7",
            "objectClass": "person",
        },
    )
    connection.strategy.add_entry(
        "uid=karl2,ou=users,dc=example", {"uid": "karl2", "mail": "dup@example.com"}
    )
    connection.strategy.add_entry(
        "uid=karl3,ou=users,dc=example", {"uid": "karl3", "mail": "dup@example.com"}
    )
    connection.bind()
    return connection


@pytest.fixture
def ldap_config(block: Callable[..., Block], directory: ldap3.Connection) -> Callable[..., Awaitable[Plugin]]:
    async def make(**settings: str) -> Plugin:
        settings.setdefault("filter", "(mail=%s)")
        settings.setdefault("config_fields", "mtsaUserConfig,mtsaScore,missing")
        return await build(
            block("ldap-uc", module="LdapUserConfig", basedn="ou=users,dc=example", **settings),
            pool_of(ldap=("Ldap", directory)),
        )

    return make


async def test_ldap_user_config_copies_entry_attributes_into_session(
    ldap_config: Callable[..., Awaitable[Plugin]],
) -> None:
    session: Session = {}
    assert await (await ldap_config()).run(Request({"sasl_username": "karl@example.com"}, session)) == []
    assert session == {"mtsaUserConfig": "on", "mtsaScore": "7"}


async def test_ldap_user_config_filter_field_selects_the_value(
    ldap_config: Callable[..., Awaitable[Plugin]],
) -> None:
    session: Session = {}
    await (await ldap_config(filter_field="sender")).run(Request({"sender": "karl@example.com"}, session))
    assert session["mtsaScore"] == "7"


@pytest.mark.parametrize("value", ["dup@example.com", "nobody@example.com", "", "*"])
async def test_ldap_user_config_needs_exactly_one_entry(
    ldap_config: Callable[..., Awaitable[Plugin]], value: str
) -> None:
    session: Session = {}
    await (await ldap_config()).run(Request({"sasl_username": value}, session))
    assert session == {}


async def test_ldap_user_config_without_value_skips_the_search(
    ldap_config: Callable[..., Awaitable[Plugin]],
) -> None:
    session: Session = {}
    await (await ldap_config()).run(Request({}, session))
    assert session == {}


async def test_ldap_user_config_needs_the_ldap_connection(block: Callable[..., Block]) -> None:
    with pytest.raises(ConfigError, match="no connection ldap configured!"):
        await build(block("l", module="LdapUserConfig", filter="(uid=%s)", config_fields="a"), pool_of())


@pytest.mark.parametrize(
    ("value", "escaped"), [("a*b", "a\\2ab"), ("(x)", "\\28x\\29"), ("a\\b", "a\\5cb"), ("n\x00", "n\\00")]
)
def test_filter_values_are_escaped(value: str, escaped: str) -> None:
    assert escape_filter_value(value) == escaped


async def test_ldap_user_config_fails_the_request_when_the_server_cannot_be_reached(
    block: Callable[..., Block],
) -> None:
    # the original takes its LDAP handle first, outside the eval around the search: connecting dies
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {"host": "127.0.0.1", "port": str(port), "starttls": "0", "timeout": "2"}
    pool = ConnectionPool([ConnectionConfig("ldap", "Ldap", options)])
    plugin = await build(
        block("ldap-uc", module="LdapUserConfig", basedn="dc=example", filter="(mail=%s)", config_fields="a"),
        pool,
    )
    with pytest.raises(ConnectionUnavailable):
        await plugin.run(Request({}, {}))
