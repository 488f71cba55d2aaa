"""GeoIPAction: acts when the country GeoIPLookup found is on a list."""

from __future__ import annotations

from mtpolicyd_core.options import MODES, NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


class GeoIPAction(Switchable, ModeAnswers, Scoring, Plugin):
    """Acts when the country code the GeoIPLookup plugin ``result_from`` stored is in ``country_codes``:
    adds ``score`` (once per mail) and rejects (`mode = reject`), answers dunno (`accept`/`dunno`) or
    only scores (`passive`). Dialect 1: an address without country is compared as an empty code."""

    result_from = Option(STR, required=True, doc="name of the GeoIPLookup plugin whose result is used")
    mode = mode_option("reject", MODES, "`reject`, `accept`/`dunno` or `passive`")
    country_codes = Option(
        STR, required=True, doc="comma separated two letter country codes, e.g. `DE,AT,CH`"
    )
    reject_message = Option(
        STR,
        default="delivery from %CC% (%IP%) rejected",
        doc="text after `reject`; `%CC%` is the country code, `%IP%` the client address",
    )
    score = Option(maybe(NUM), doc="score added on a match")

    async def run(self, request: Request) -> list[PluginResult]:
        ip = request.attr("client_address")
        mode = self.get_uc(request, "mode")
        found = None if request.session is None else request.session.get(f"geoip-{self.result_from}-result")
        if found is None:
            self.debug(request, f"no GeoIP check result for {self.name} found!")
            return []
        code = found[0] if isinstance(found, list) and found else None
        if code is None:
            if self.dialect != "1":
                return []
            code = ""  # 1.17 compares the missing code like an empty string
        if code not in comma_list(self.country_codes):
            self.debug(request, f"country_code {code} of IP not in country_code list{self.name}")
            return []
        self.debug(request, f"country code {code} on list{self.name}")
        self.add_score_once(request, f"geoip-{self.name}-score", self.score)
        message = self.reject_message.replace("%IP%", ip or "", 1).replace("%CC%", code, 1)
        return self.mode_results(mode, f"reject {message}")
