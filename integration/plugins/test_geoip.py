"""GeoIPLookup/GeoIPAction, differential: the Perl original (Geo::IP on libGeoIP) and our daemon read
one database and must answer alike, malformed client addresses included."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from integration.fixtures.plugin import DaemonFactory
from integration.test_differential_control import SERVER

CORE_TESTS = Path(__file__).parents[2] / "packages" / "mtpolicyd-core" / "tests"

CONFIG = (
    SERVER
    + """
<VirtualHost {port}>
  name = geo
  <Plugin lookup>
    module = "GeoIPLookup"
    database = "{database}"
  </Plugin>
  <Plugin action>
    module = "GeoIPAction"
    result_from = "lookup"
    country_codes = "DE"
    reject_message = "from %CC% (%IP%)"
  </Plugin>
</VirtualHost>
"""
)

#: client_address → the original's answer (written here; checked against the Perl daemon first)
EXPECTED = {
    "192.0.2.1": ["action=reject from DE (192.0.2.1)"],
    "192.000.002.001": ["action=reject from DE (192.000.002.001)"],  # decimal parts, leading zeros
    "192.0.521": ["action=dunno"],  # three parts: no address (inet_aton would read 192.0.2.9)
    "0300.0.2.1": ["action=dunno"],  # 300 > 255 (inet_aton would read octal 192)
    "192.0.2.1.": ["action=dunno"],
    "203.0.113.1": ["action=dunno"],
}


def geoip_data() -> ModuleType:
    """The core tests' writer of legacy GeoIP country databases."""
    spec = importlib.util.spec_from_file_location("geoip_data", CORE_TESTS / "geoip_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_geoip_answers_like_the_original_for_malformed_addresses(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory, tmp_path: Path
) -> None:
    database = geoip_data().write_country_dat(tmp_path / "GeoIP.dat", {"192.0.2.0/24": "DE"})
    requests = [{"request": "smtpd_access_policy", "client_address": ip} for ip in EXPECTED]
    perl = perl_mtpolicyd(CONFIG, database=str(database))
    perl_answers = [perl.request(request) for request in requests]
    assert perl_answers == list(EXPECTED.values())
    perl.stop()
    python = python_mtpolicyd(CONFIG, database=str(database))
    assert [python.request(request) for request in requests] == perl_answers
