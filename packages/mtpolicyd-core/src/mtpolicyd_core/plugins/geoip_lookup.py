"""GeoIPLookup: finds the country of the client address in a GeoIP database."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import pygeoip

from mtpolicyd_core.lookups.geoip_address import libgeoip_ipv4
from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


class GeoIPLookup(Plugin):
    """Looks up the country code of ``client_address`` in a legacy GeoIP country database (`GeoIP.dat`)
    and keeps it in the session (`geoip-<name>-result`) for GeoIPAction; answers nothing."""

    database = Option(
        STR,
        default="/usr/share/GeoIP/GeoIP.dat",
        doc="the GeoIP (legacy `.dat`) country database",
        reads_file=True,
    )

    @cached_property
    def geoip(self) -> Any:
        """The database, opened on first use; a missing file fails the request."""
        try:
            return pygeoip.GeoIP(self.database, pygeoip.STANDARD)
        except OSError as error:
            raise OSError(f"could not open GeoIP database {self.database}: {error}") from None

    def country_code(self, ip: str | None) -> str | None:
        """The two letter code, or None when the address is unknown, malformed (as libGeoIP reads it)
        or not IPv4.
        Reads the file: run on the thread pool (pygeoip locks its file itself)."""
        address = libgeoip_ipv4(ip) if ip else None
        if address is None:
            return None
        database = self.geoip
        try:
            code: str = database.country_code_by_addr(address)
        except (OSError, pygeoip.GeoIPError) as error:
            self.logger.debug("GeoIP lookup of %s: %s", ip, error)
            return None
        return code or None

    async def run(self, request: Request) -> list[PluginResult]:
        ip = request.attr("client_address")

        async def lookup() -> list[str | None]:
            return [await self.in_thread(self.country_code, ip)]

        found = await request.do_cached(f"geoip-{self.name}-result", lookup)
        if found[0] is None:
            self.debug(request, f"no GeoIP record for {ip} found")
        return []
