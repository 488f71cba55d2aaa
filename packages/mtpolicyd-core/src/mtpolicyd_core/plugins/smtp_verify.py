"""SMTPVerify (2.x): probes an address with MAIL FROM/RCPT TO at its mail exchanger.

Mirrors Net::SMTP::Verify as mtpolicyd 2.05 uses it: the MX (or ``host``) is
asked whether it would take the address, whether it offers STARTTLS and,
optionally, whether TLSA/OPENPGPKEY records are published (DNSSEC-validated: the
system resolver must set the AD flag).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.resolver

from mtpolicyd_core.options import INT, NUM, ON_OFF, STR, Option, maybe
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable

SMTP_PORT = 25
SMTP_TIMEOUT = 30


@dataclass
class ProbeResult:
    """What the probe learned about one address (Net::SMTP::Verify::Result)."""

    address: str
    has_starttls: bool | None = None
    has_tlsa: bool | None = None
    has_openpgp: bool | None = None
    smtp_code: int | None = None
    smtp_message: str = ""
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return not (self.smtp_code is not None and str(self.smtp_code).startswith("2"))

    @property
    def is_temp_error(self) -> bool:
        return self.smtp_code is not None and str(self.smtp_code).startswith("4")

    @property
    def is_perm_error(self) -> bool:
        return self.smtp_code is not None and str(self.smtp_code).startswith("5")


def dnssec_resolver() -> dns.resolver.Resolver:
    """The system resolver asking for DNSSEC data and the AD flag."""
    resolver = dns.resolver.Resolver()
    resolver.use_edns(0, dns.flags.DO, 1232)
    resolver.flags = dns.flags.RD | dns.flags.AD
    return resolver


def has_secure_record(name: str, rdtype: str) -> bool:
    """Whether a DNSSEC-validated (AD flag) record of this type exists."""
    try:
        answer = dnssec_resolver().resolve(name, rdtype, raise_on_no_answer=False)
    except (dns.exception.DNSException, OSError):
        return False
    return bool(answer.response.flags & dns.flags.AD) and bool(answer.rrset)


def mail_exchanger(domain: str) -> str | None:
    """The preferred MX of a domain, the domain itself when it only has addresses, else None."""
    resolver = dns.resolver.Resolver()
    try:
        records = sorted(resolver.resolve(domain, "MX"), key=lambda mx: mx.preference)
        return str(records[0].exchange).rstrip(".")
    except (dns.exception.DNSException, IndexError):
        pass
    for rdtype in ("AAAA", "A"):
        try:
            resolver.resolve(domain, rdtype)
            return domain
        except dns.exception.DNSException:
            continue
    return None


class SMTPVerify(Switchable, Scoring, Plugin):
    """Asks the mail exchanger of an address (or ``host``:``port``) whether it would accept
    it: ``MAIL FROM`` (with ``SIZE`` when offered) and ``RCPT TO``, once per address and mail.
    4xx answers give ``temp_fail_action``/``temp_fail_score``, 5xx ``perm_fail_action``/
    ``perm_fail_score``; ``%MSG%`` in an action is the server's reply text. STARTTLS
    support (and, with check_tlsa/check_openpgp on, DNSSEC-signed TLSA/OPENPGPKEY records)
    may add scores.

    As in mtpolicyd 2.05 the default fields are swapped: the probed address comes from
    ``sender`` and MAIL FROM from ``recipient``; set ``recipient_field``/``sender_field``.
    """

    host = Option(maybe(STR), doc="probe this SMTP server instead of the address's MX")
    port = Option(maybe(INT), doc="SMTP port (default 25)")
    check_tlsa = Option(
        STR,
        default="off",
        doc="`on`: look up a DNSSEC-signed TLSA record of the MX",
        choices=ON_OFF,
        otherwise="like off",
    )
    check_openpgp = Option(
        STR,
        default="off",
        doc="`on`: look up a DNSSEC-signed OPENPGPKEY record",
        choices=ON_OFF,
        otherwise="like off",
    )
    size_field = Option(maybe(STR), default="size", doc="request attribute with the message size")
    sender_field = Option(maybe(STR), default="recipient", doc="request attribute used as MAIL FROM")
    recipient_field = Option(maybe(STR), default="sender", doc="request attribute with the probed address")
    temp_fail_action = Option(maybe(STR), doc="action on a 4xx answer (`%MSG%`: the reply)")
    temp_fail_score = Option(maybe(NUM), doc="score added on a 4xx answer")
    perm_fail_action = Option(maybe(STR), doc="action on a 5xx answer (`%MSG%`: the reply)")
    perm_fail_score = Option(maybe(NUM), doc="score added on a 5xx answer")
    has_starttls_score = Option(maybe(NUM), doc="score when the server offers STARTTLS")
    no_starttls_score = Option(maybe(NUM), doc="score when it does not")
    has_tlsa_score = Option(maybe(NUM), doc="score when a TLSA record is published")
    no_tlsa_score = Option(maybe(NUM), doc="score when none is")
    has_openpgp_score = Option(maybe(NUM), doc="score when an OPENPGPKEY record is published")
    no_openpgp_score = Option(maybe(NUM), doc="score when none is")
    sender = Option(maybe(STR), doc="fixed MAIL FROM address (instead of sender_field)")

    def field_value(self, request: Request, option: str, integer: bool = False) -> str | None:
        """The request value of a ``<name>_field`` option; None (logged) when unset, empty or not an Int."""
        field = getattr(self, option)
        if not field:
            self.debug(request, f"no request field configured in {option}")
            return None
        value = request.attr(field)
        if value is None or value == "":
            self.debug(request, f"value of field {field} not defined or empty")
            return None
        if integer and not re.fullmatch(r"-?[0-9]+", value):
            self.debug(request, f"value of field {field} failed validation for Int")
            return None
        return value

    async def run(self, request: Request) -> list[PluginResult]:
        size = self.field_value(request, "size_field", integer=True)
        sender = self.sender if self.sender is not None else self.field_value(request, "sender_field")
        recipient = self.field_value(request, "recipient_field")
        if request.is_already_done(f"verify-{recipient or ''}"):
            return []
        if recipient is None:
            raise ValueError("no address to verify")
        result = await self.in_thread(self.probe, request, size, sender, recipient)
        self.apply_score(request, result, "starttls", result.has_starttls)
        if self.check_tlsa == "on":
            self.apply_score(request, result, "tlsa", result.has_tlsa)
        if self.check_openpgp == "on":
            self.apply_score(request, result, "openpgp", result.has_openpgp)
        return self.rcpt_error(request, result) if result.is_error else []

    def apply_score(self, request: Request, result: ProbeResult, check: str, found: bool | None) -> None:
        """Add ``has_<check>_score`` or ``no_<check>_score`` when the check ran."""
        if found is None:
            return
        score = getattr(self, f"{'has' if found else 'no'}_{check}_score")
        if score is not None:
            self.add_score(request, f"{self.name}-{result.address}-{check}", score)

    def rcpt_error(self, request: Request, result: ProbeResult) -> list[PluginResult]:
        """Score and action of a refused address."""
        if result.is_perm_error:
            action, score = self.perm_fail_action, self.perm_fail_score
        elif result.is_temp_error:
            action, score = self.temp_fail_action, self.temp_fail_score
        else:
            return []
        if score is not None:
            self.add_score(request, f"{self.name}-{result.address}", score)
        if action is None:
            return []
        return [PluginResult(action.replace("%MSG%", result.smtp_message, 1), abort=True)]

    def probe(self, request: Request, size: str | None, sender: str | None, address: str) -> ProbeResult:
        """Resolve the server, run the optional DNS checks and the SMTP dialogue (blocking: smtplib)."""
        result = ProbeResult(address)
        domain = address.split("@", 1)[1] if "@" in address else ""
        server = self.host or mail_exchanger(domain)
        if server is None:
            raise ValueError(f"unable to lookup {domain}")
        if self.check_tlsa == "on":
            result.has_tlsa = has_secure_record(f"_{SMTP_PORT}._tcp.{server}", "TLSA")
        self.smtp_dialogue(request, result, server, size, sender)
        if self.check_openpgp == "on":
            local = address.split("@", 1)[0]
            digest = hashlib.sha224(local.encode("utf-8", "surrogateescape")).hexdigest()
            name = f"{digest}._openpgpkey.{domain}"
            result.has_openpgp = has_secure_record(name, "OPENPGPKEY")
        return result

    def smtp_dialogue(
        self, request: Request, result: ProbeResult, server: str, size: str | None, sender: str | None
    ) -> None:
        """EHLO, MAIL FROM, RCPT TO, QUIT; the answer to the address goes into ``result``."""
        port = self.port or SMTP_PORT
        self.debug(request, f"connecting to {server} on port {port}...")
        try:
            smtp = smtplib.SMTP(server, port, local_hostname=socket.gethostname(), timeout=SMTP_TIMEOUT)
            smtp.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as error:
            self.debug(request, f"connection failed: {error}")
            result.error = f"connection failed: {error}"
            return
        try:
            result.has_starttls = smtp.has_extn("starttls")
            options = [f"SIZE={size}"] if size is not None and smtp.has_extn("size") else []
            code, message = smtp.mail(sender or "", options)
            if 200 <= code < 300:
                code, message = smtp.rcpt(result.address)
            result.smtp_code = code
            result.smtp_message = message.decode("utf-8", errors="replace").rstrip("\n")
            self.debug(request, f"server said: {result.smtp_message}")
            smtp.quit()
        except (OSError, smtplib.SMTPException) as error:
            self.debug(request, f"SMTP dialogue failed: {error}")
            result.error = str(error)
        finally:
            smtp.close()
