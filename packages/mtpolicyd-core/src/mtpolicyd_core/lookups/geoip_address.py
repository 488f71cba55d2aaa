"""IPv4 text as libGeoIP reads it (``GeoIP_addr_to_num``), so GeoIPLookup finds what the original finds.

libGeoIP (under Perl's Geo::IP) reads exactly four decimal parts separated by dots, a part may be
empty (0) or have leading zeros (decimal, not octal); anything else is address 0, which has no
country. Python's ``inet_aton`` (under pygeoip) reads ``1.2.3`` as ``1.2.0.3`` and ``010`` as octal.
"""

from __future__ import annotations

_UINT = 0xFFFFFFFF


def libgeoip_ipv4(text: str) -> str | None:
    """The dotted quad libGeoIP would look up for ``text``, or None where it finds no country."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    octets = []
    for part in parts:
        value = 0
        for char in part:
            if not "0" <= char <= "9":
                return None
            value = (value * 10 + ord(char) - ord("0")) & _UINT  # C unsigned int arithmetic
        if value > 255:
            return None
        octets.append(value)
    if not any(octets):
        return None  # 0.0.0.0: libGeoIP's "no address"
    return ".".join(map(str, octets))
