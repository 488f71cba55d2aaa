from collections.abc import Callable
from pathlib import Path

import pytest
from geoip_data import write_country_dat
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request


@pytest.fixture
def geoip_lookup(block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path) -> Plugin:
    path = write_country_dat(tmp_path / "GeoIP.dat", {"192.0.2.0/24": "DE", "198.51.100.0/24": "CN"})
    return build_plugin(block("geoip", module="GeoIPLookup", database=str(path)))


@pytest.mark.parametrize(
    ("ip", "code"),
    [("192.0.2.1", "DE"), ("198.51.100.9", "CN"), ("203.0.113.1", None), ("2001:db8::1", None)],
)
async def test_geoip_lookup_stores_country_code_in_session(
    geoip_lookup: Plugin, ip: str, code: str | None
) -> None:
    session: dict[str, object] = {}
    assert await geoip_lookup.run(Request({"client_address": ip}, session)) == []
    assert session["geoip-geoip-result"] == [code]


async def test_geoip_lookup_without_client_address_stores_no_code(geoip_lookup: Plugin) -> None:
    session: dict[str, object] = {}
    await geoip_lookup.run(Request({}, session))
    assert session["geoip-geoip-result"] == [None]


async def test_geoip_lookup_missing_database_fails_the_request(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path
) -> None:
    plugin = build_plugin(block("geoip", module="GeoIPLookup", database=str(tmp_path / "none.dat")))
    with pytest.raises(OSError, match=r"none\.dat"):
        await plugin.run(Request({"client_address": "192.0.2.1"}, {}))


@pytest.mark.parametrize(
    ("ip", "code"),
    [
        ("192.0.521", None),  # inet_aton: 192.0.2.9
        ("0300.0.2.1", None),  # inet_aton: octal, 192.0.2.1
        ("192.000.002.001", "DE"),
        ("192.0.2.1.", None),
    ],
)
async def test_geoip_lookup_reads_malformed_addresses_as_libgeoip_does(
    geoip_lookup: Plugin, ip: str, code: str | None
) -> None:
    session: dict[str, object] = {}
    await geoip_lookup.run(Request({"client_address": ip}, session))
    assert session["geoip-geoip-result"] == [code]
