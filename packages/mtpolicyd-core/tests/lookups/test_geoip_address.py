"""IPv4 text read as libGeoIP's GeoIP_addr_to_num reads it."""

from __future__ import annotations

import pytest
from mtpolicyd_core.lookups.geoip_address import libgeoip_ipv4


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("010.0.0.1", "10.0.0.1"),  # decimal, not octal as inet_aton reads it
        ("1..2.3", "1.0.2.3"),  # an empty part is 0
        ("1.2.3.", "1.2.3.0"),
        ("1.2.3", None),  # inet_aton: 1.2.0.3
        ("1.2.3.4.5", None),
        ("1.2.3.256", None),
        ("1.2.3.-4", None),
        ("0x1.2.3.4", None),
        ("0.0.0.0", None),
        ("2001:db8::1", None),
        ("", None),
    ],
)
def test_libgeoip_ipv4(text: str, address: str | None) -> None:
    assert libgeoip_ipv4(text) == address
