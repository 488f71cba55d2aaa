from collections.abc import Callable
from pathlib import Path

import pytest
from berkeley_data import write_hash_db
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.sa_awl_lookup import truncate_ip
from mtpolicyd_core.request import Request

AWL = {
    b"good@mtpolicyd.org|ip=12.34|totscore": b"20",
    b"good@mtpolicyd.org|ip=12.34": b"100",
    b"bad@mtpolicyd.org|ip=12.34|totscore": b"2000",
    b"bad@mtpolicyd.org|ip=12.34": b"100",
    b"low@mtpolicyd.org|ip=12.34": b"1",
    b"v6@mtpolicyd.org|ip=2A01:04F8:0D12::": b"4",
    b"v6@mtpolicyd.org|ip=2A01:04F8:0D12::|totscore": b"-2",
    b"caf\xe9@mtpolicyd.org|ip=12.34": b"10",
    b"caf\xe9@mtpolicyd.org|ip=12.34|totscore": b"30",
}


@pytest.fixture
def sa_awl(block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path) -> Plugin:
    path = write_hash_db(tmp_path / "auto-whitelist", AWL)
    return build_plugin(block("sa-awl", module="SaAwlLookup", db_file=str(path)))


async def run(plugin: Plugin, sender: str, ip: str = "12.34.56.78") -> object:
    session: dict[str, object] = {}
    assert await plugin.run(Request({"sender": sender, "client_address": ip}, session)) == []
    return session.get("sa-awl-sa-awl-result")


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("12.34.56.78", "12.34"),
        ("2a01:4f8:d12:242::2", "2A01:04F8:0D12::"),
        ("2001:db8:0:1::1", "2001:0DB8::"),
        ("2001:0:5::1", "2001:::0005:0000:0000:0000:0000:0000"),
        ("garbage", None),
    ],
)
def test_addresses_are_truncated_to_the_awl_network(ip: str, network: str | None) -> None:
    assert truncate_ip(ip) == network


async def test_sa_awl_lookup_stores_count_and_average_score(sa_awl: Plugin) -> None:
    assert await run(sa_awl, "bad@mtpolicyd.org") == ["100", 20]
    assert await run(sa_awl, "good@mtpolicyd.org") == ["100", 0.2]
    assert await run(sa_awl, "v6@mtpolicyd.org", "2a01:4f8:d12:242::2") == ["4", -0.5]


async def test_sa_awl_lookup_without_total_stores_nothing(sa_awl: Plugin) -> None:
    assert await run(sa_awl, "low@mtpolicyd.org") == []
    assert await run(sa_awl, "unknown@mtpolicyd.org") == []


async def test_sa_awl_lookup_needs_sender_and_client_address(sa_awl: Plugin) -> None:
    session: dict[str, object] = {}
    assert await sa_awl.run(Request({"sender": "bad@mtpolicyd.org"}, session)) == []
    assert session == {}


async def test_sa_awl_lookup_finds_a_sender_that_is_not_utf8_by_its_bytes(sa_awl: Plugin) -> None:
    # the request kept the bytes as sent (surrogate escapes); the AWL key is those bytes
    assert await run(sa_awl, b"caf\xe9@mtpolicyd.org".decode("utf-8", "surrogateescape")) == ["10", 3]
