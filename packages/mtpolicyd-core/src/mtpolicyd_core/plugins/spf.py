"""SPF: checks the HELO name and the sender against their SPF policies."""

from __future__ import annotations

import functools
from functools import cached_property

from mtpolicyd_core.lookups.spf import SpfLimits, SpfResult, SpfServer, evaluate
from mtpolicyd_core.options import MODES, NUM, ON_OFF, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.address_list import AddressList
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.mode import ModeAnswers
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable


class SPF(Switchable, ModeAnswers, Scoring, Plugin):
    """Sender Policy Framework checks: first of the HELO name (unless `check_helo = off`; a pass there
    decides nothing), then of the sender (`postmaster@<helo>` for the null sender). `fail` adds
    ``fail_score`` and rejects in `fail_mode = reject`; `pass` adds ``pass_score`` and answers dunno in
    `pass_mode = accept`/`dunno`; `neutral` and `none` do nothing. 2.x also acts on `softfail`,
    `temperror` (defer) and `permerror` (reject); 1.17 ignores them. Local and ``whitelist`` addresses
    are not checked."""

    pass_score = Option(maybe(NUM), doc="score added on `pass`")
    pass_mode = mode_option("passive", ("passive", "accept", "dunno"), "`passive`, or `accept`/`dunno`")
    softfail_score = Option(maybe(NUM), doc="2.x: score added on `softfail`")
    softfail_mode = mode_option("passive", MODES, "2.x: `passive`, `accept`/`dunno` or `reject`")
    fail_score = Option(maybe(NUM), doc="score added on `fail`")
    fail_mode = mode_option("reject", ("reject", "passive"), "`reject` or `passive`")
    reject_message = Option(
        STR,
        default="SPF validation failed: %LOCAL_EXPL%",
        doc="text after `reject`; `%LOCAL_EXPL%` is the local explanation, `%AUTH_EXPL%` the domain's",
    )
    default_authority_explanation = Option(
        STR,
        default="See http://www.%{d}/why/id=%{S};ip=%{I};r=%{R}",
        doc="explanation used for `%AUTH_EXPL%` when the domain gives none",
    )
    hostname = Option(STR, default="", doc="this host's name for the `%{r}` macro")
    whitelist = Option(STR, default="", doc="comma separated addresses or networks not checked")
    max_dns_interactive_terms = Option(maybe(NUM), default="10", doc="2.x: DNS-querying terms allowed")
    max_name_lookups_per_term = Option(
        maybe(NUM), default="10", doc="2.x: names looked up per term (only the RFC default 10 is supported)"
    )
    max_void_dns_lookups = Option(
        maybe(NUM), default="2", doc="2.x: empty DNS answers allowed (only the RFC default 2 is supported)"
    )
    temperror_score = Option(maybe(NUM), doc="2.x: score added on `temperror`")
    temperror_mode = Option(
        STR,
        default="defer",
        doc="2.x: `passive`, `dunno`, or anything else to defer",
        choices=("defer", "passive", "dunno"),
        otherwise="it defers, like defer",
    )
    permerror_score = Option(maybe(NUM), doc="2.x: score added on `permerror`")
    permerror_mode = Option(
        STR,
        default="reject",
        doc="2.x: `passive`, or anything else to reject",
        choices=("reject", "passive"),
        otherwise="it rejects, like reject",
    )
    check_helo = Option(
        STR, default="on", doc="`off`: check only the sender", choices=ON_OFF, otherwise="like on"
    )

    def init(self) -> None:
        for option, rfc_default in (("max_name_lookups_per_term", 10), ("max_void_dns_lookups", 2)):
            value = getattr(self, option)
            if value is not None and value != rfc_default:
                self.logger.warning(
                    "%s: %s other than %d is not supported, using it", self.name, option, rfc_default
                )
        self.whitelisted = AddressList(self.whitelist)

    @cached_property
    def server(self) -> SpfServer:
        """Resolver, limits and explanation settings of this plugin's evaluations."""
        terms = self.max_dns_interactive_terms
        limits = SpfLimits(dns_interactive_terms=10 if terms is None or self.dialect == "1" else int(terms))
        return SpfServer(limits, self.hostname, self.default_authority_explanation)

    async def run(self, request: Request) -> list[PluginResult]:
        if not request.is_attr_defined("client_address"):
            self.debug(request, "cant check SPF without client_address")
            return []
        ip = request.attr("client_address") or ""
        if self.whitelisted.contains(ip):
            self.debug(request, "skipping SPF checks for local or whitelisted ip")
            return []
        sender = request.attr("sender")
        helo = request.attr("helo_name")
        if helo is not None and request.is_attr_defined("helo_name") and self.check_helo != "off":
            helo_results = self.judge(request, "helo", await self.evaluation(request, "helo", helo, ip, None))
            if helo_results is not None:
                return helo_results
            if not request.is_attr_defined("sender"):
                sender = f"postmaster@{helo}"
                self.debug(request, f"null sender, building sender from HELO: {sender}")
        if sender is None:
            self.debug(request, "skipping SPF check because of null sender, consider setting check_helo=on")
            return []
        result = await self.evaluation(request, "mfrom", sender, ip, helo or None)
        return self.judge(request, "mfrom", result) or []

    def checks(self, request: Request) -> list[tuple[str, str, str | None]]:
        """The (scope, identity, helo) evaluations ``run`` may need for this request."""
        if not request.is_attr_defined("client_address"):
            return []
        helo = request.attr("helo_name")
        sender = request.attr("sender")
        checks: list[tuple[str, str, str | None]] = []
        if helo is not None and request.is_attr_defined("helo_name") and self.check_helo != "off":
            checks.append(("helo", helo, None))
            if not request.is_attr_defined("sender"):
                sender = f"postmaster@{helo}"
        if sender is not None:
            checks.append(("mfrom", sender, helo or None))
        return checks

    def prefetch(self, request: Request) -> None:
        ip = request.attr("client_address") or ""
        if self.whitelisted.contains(ip):
            return
        for scope, identity, helo in self.checks(request):
            request.start_lookup(
                f"{self.name}-{scope}", functools.partial(self.evaluate, scope, identity, ip, helo)
            )

    async def evaluate(self, scope: str, identity: str, ip: str, helo: str | None) -> SpfResult:
        """One evaluation by pyspf, on the thread pool (pyspf blocks on DNS)."""
        return await self.in_thread(evaluate, scope, identity, ip, helo, self.server, self.dns.current())

    async def evaluation(
        self, request: Request, scope: str, identity: str, ip: str, helo: str | None
    ) -> SpfResult:
        """The evaluation started for the request (parallel DNS), or one run now; not kept per mail."""
        return await request.lookup(f"{self.name}-{scope}", lambda: self.evaluate(scope, identity, ip, helo))

    def judge(self, request: Request, scope: str, result: SpfResult) -> list[PluginResult] | None:
        """The answer for one result; None when the check decided nothing (the sender check follows)."""
        code, explanation = result.code, result.local_explanation
        if code == "neutral":
            self.debug(request, f"SPF {scope} status neutral. (no SPF records)")
            return None
        if code == "fail":
            self.debug(request, f"SPF {scope} check failed: {explanation}")
            self.add_score_once(request, f"{self.name}-score", self.fail_score)
            return self.mode_results(self.get_uc(request, "fail_mode"), self.reject(result), accept_modes=())
        if code == "pass":
            self.debug(request, f"SPF {scope} check passed")
            if scope == "helo":
                return None
            self.add_score_once(request, f"{self.name}-score", self.pass_score)
            return self.mode_results(self.get_uc(request, "pass_mode"), None)
        if self.dialect != "1" and code == "softfail":
            self.debug(request, f"SPF {scope} check returned softfail {explanation}")
            self.add_score_once(request, f"{self.name}-score", self.softfail_score)
            return self.mode_results(self.get_uc(request, "softfail_mode"), self.reject(result))
        if self.dialect != "1" and code in ("temperror", "permerror"):
            return self.spf_error(request, scope, result)
        self.debug(request, f"spf {scope} check failed: {explanation}")
        return None

    def spf_error(self, request: Request, scope: str, result: SpfResult) -> list[PluginResult]:
        """2.x: a temp/perm error scores and defers/rejects; like the original, `dunno` is read
        from ``temperror_mode`` for both errors, and the action word does not follow the mode."""
        self.debug(request, f"SPF {scope} failed with {result.code} {result.local_explanation}")
        temporary = result.code == "temperror"
        self.add_score_once(
            request, f"{self.name}-score", self.temperror_score if temporary else self.permerror_score
        )
        if (self.temperror_mode if temporary else self.permerror_mode) == "passive":
            return []
        if self.temperror_mode == "dunno":
            return [PluginResult.dunno()]
        action = "defer" if temporary else "reject"
        return [PluginResult(f"{action} spf {scope} check failed: {result.local_explanation}", abort=True)]

    def reject(self, result: SpfResult) -> str:
        """``reject`` and the message with its explanations."""
        message = self.reject_message.replace("%LOCAL_EXPL%", result.local_explanation, 1)
        message = message.replace("%AUTH_EXPL%", result.authority_explanation, 1)
        return f"reject {message}"
