"""CtIpRep: asks a Commtouch ctipd IP reputation service about the client address."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from mtpolicyd_core.options import NUM, STR, Option, maybe, mode_option
from mtpolicyd_core.perl.truth import perl_true
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable

#: seconds to wait for ctipd; the original's HTTP client waited up to three minutes
HTTP_TIMEOUT = 10.0


class CtIpRep(Switchable, Scoring, Plugin):
    """Asks ctipd (an HTTP service) to classify ``client_address``: `accept` passes; `permfail` and
    `tempfail` add their score (once per mail) and, in mode `reject` or `defer`, answer the reject or
    defer message (`%IP%`, `%REFID%` replaced); other modes only score."""

    url = Option(STR, default="http://localhost:8080/ctipd/iprep", doc="the ctipd classification URL")
    key = Option(maybe(STR), doc="ctipd licence key, if the service needs one")
    reject_message = Option(
        STR,
        default="550 delivery from %IP% is rejected. Check at "
        "http://www.commtouch.com/Site/Resources/Check_IP_Reputation.asp. Reference code: %REFID%",
        doc="text after `reject`",
    )
    defer_message = Option(
        STR,
        default="450 delivery from %IP% is deferred,repeatedly. Send again or check at "
        "http://www.commtouch.com/Site/Resources/Check_IP_Reputation.asp. Reference code: %REFID%",
        doc="text after `defer`",
    )
    permfail_score = Option(maybe(NUM), doc="score added on `permfail`")
    permfail_mode = mode_option("reject", ("reject", "defer", "passive"), "`reject`, `defer` or `passive`")
    tempfail_score = Option(maybe(NUM), doc="score added on `tempfail`")
    tempfail_mode = mode_option("defer", ("reject", "defer", "passive"), "`reject`, `defer` or `passive`")

    def classify(self, ip: str) -> list[str | None]:
        """``[action, refid]`` as ctipd answers them; an HTTP or format error fails the request.
        Blocking (urllib): run on the thread pool."""
        body = "x-ctch-request-type: classifyip\r\nx-ctch-pver: 1.0\r\n"
        if self.key is not None:
            body += f"x-ctch-key: {self.key}\r\n"
        body += f"\r\nx-ctch-ip: {ip}\r\n"
        http_request = urllib.request.Request(
            self.url,
            data=body.encode("utf-8", "surrogateescape"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(http_request, timeout=HTTP_TIMEOUT) as response:
                content = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"error while accessing Commtouch ctipd: {error.code} {error.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            raise RuntimeError(f"error while accessing Commtouch ctipd: {error}") from None
        action = re.search(r"^x-ctch-dm-action:(.*)\r$", content, re.MULTILINE)
        refid = re.search(r"^x-ctch-refid:(.*)\r$", content, re.MULTILINE)
        if action is None:
            raise RuntimeError(f"could not find action in response: {content}")
        return [action.group(1), None if refid is None else refid.group(1)]

    async def run(self, request: Request) -> list[PluginResult]:
        ip = request.attr("client_address")
        if ip is None:
            raise ValueError("no client_address in request!")
        verdict, refid = await request.do_cached(
            f"{self.name}-result", lambda: self.in_thread(self.classify, ip)
        )
        if verdict == "accept":
            self.debug(request, "CtIpRep: sender IP is ok")
            return []
        if verdict not in ("permfail", "tempfail"):
            raise ValueError(f"unknown ctiprep action: {verdict}")
        mode = self.get_uc(request, f"{verdict}_mode")
        score = getattr(self, f"{verdict}_score")
        # a Perl-false score (0, "") adds nothing and leaves the flag down, as in the original
        self.add_score_once(request, f"{self.name}-score", score if perl_true(score) else None)
        self.debug(request, f"CtIpRep: result={verdict}, mode={mode}")
        if mode not in ("reject", "defer"):
            return []
        message = self.reject_message if mode == "reject" else self.defer_message
        message = message.replace("%IP%", ip, 1).replace("%REFID%", refid or "", 1)
        return [PluginResult(f"{mode} {message}", abort=True)]
