"""Read a Postfix mail log into a trace: who connected, who sent to whom, what was rejected."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from policy_sim.anonymise import Pseudonymiser
from policy_sim.generate import StageSpec

_LINE = re.compile(
    r"^(?:\w{3}\s+\d+\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+)\s+\S+\s+"
    r"(?P<program>[\w/.-]+)\[(?P<pid>\d+)\]:\s+(?P<message>.*)$"
)
_CLIENT = r"(?P<name>[^\s\[\]]+)\[(?P<address>[^\]]+)\]"
_CONNECT = re.compile(rf"^connect from {_CLIENT}")
_DISCONNECT = re.compile(r"^(?:disconnect|lost connection after \S+) from ")
_QUEUED = re.compile(rf"^(?P<qid>[0-9A-Za-z]+): client={_CLIENT}(?P<rest>.*)$")
_SASL_METHOD = re.compile(r"sasl_method=([^,\s]+)")
_SASL_USER = re.compile(r"sasl_username=([^,\s]+)")
_REJECT = re.compile(
    rf"^(?P<qid>NOQUEUE|[0-9A-Za-z]+): (?P<verdict>reject|defer|reject_warning): RCPT from {_CLIENT}: "
    r"(?P<reply>.*?); from=<(?P<sender>[^>]*)> to=<(?P<recipient>[^>]*)>"
    r"(?: proto=(?P<proto>\S+))?(?: helo=<(?P<helo>[^>]*)>)?"
)
_SENDER = re.compile(r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>(?:, size=(?P<size>\d+))?")
_CLEANUP_REJECT = re.compile(
    r"^(?P<qid>[0-9A-Za-z]+): (?:milter-)?(?:reject|discard|hold): .*?from=<(?P<sender>[^>]*)> "
    r"to=<(?P<recipient>[^>]*)>(?: proto=\S+)?(?: helo=<(?P<helo>[^>]*)>)?"
)
_DELIVERY = re.compile(r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]*)>(?:, orig_to=<(?P<orig>[^>]*)>)?")
_DELIVERY_AGENTS = {"smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry", "lmtp-in"}


@dataclass
class _Session:
    """An smtpd connection as far as the log shows it."""

    client_name: str
    client_address: str
    helo: str = ""


@dataclass
class ImportedMail:
    """A mail transaction found in the log (queued, or refused before it was queued)."""

    id: str
    line: int
    client_name: str
    client_address: str
    helo: str = ""
    sender: str | None = None
    protocol_name: str = "ESMTP"
    sasl_method: str = ""
    sasl_username: str = ""
    size: int = 0
    recipients: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    pid: str = ""

    def add_recipient(self, address: str) -> None:
        """Append a recipient once, in order of first appearance."""
        if address not in self.recipients:
            self.recipients.append(address)


@dataclass
class MaillogReader:
    """Feed log lines in order; ``mails()`` gives the transactions in order of their start."""

    queued: dict[str, ImportedMail] = field(default_factory=dict)
    refused: list[ImportedMail] = field(default_factory=list)
    sessions: dict[str, _Session] = field(default_factory=dict)
    _open_refusal: dict[str, ImportedMail] = field(default_factory=dict)
    _refusal_before: dict[str, ImportedMail] = field(default_factory=dict)
    lines_read: int = 0
    lines_used: int = 0

    def feed(self, lines: Iterable[str]) -> None:
        """Read every line; lines that are not Postfix's are skipped."""
        for number, raw in enumerate(lines, self.lines_read + 1):
            self.lines_read = number
            found = _LINE.match(raw.rstrip("\n"))
            if found and self._line(
                number, found["program"].rsplit("/", 1)[-1], found["pid"], found["message"]
            ):
                self.lines_used += 1

    def _line(self, number: int, program: str, pid: str, message: str) -> bool:
        if program == "smtpd":
            return self._smtpd(number, pid, message)
        if program in ("qmgr", "cleanup"):
            return self._envelope(message)
        if program in _DELIVERY_AGENTS:
            return self._delivery(message)
        return False

    def _smtpd(self, number: int, pid: str, message: str) -> bool:
        if found := _CONNECT.match(message):
            self.sessions[pid] = _Session(found["name"], found["address"])
            self._open_refusal.pop(pid, None)
            return True
        if _DISCONNECT.match(message):
            self.sessions.pop(pid, None)
            self._open_refusal.pop(pid, None)
            return True
        if found := _QUEUED.match(message):
            session = self.sessions.get(pid)
            mail = ImportedMail(
                found["qid"],
                number,
                found["name"],
                found["address"],
                helo=session.helo if session else "",
                pid=pid,
            )
            if method := _SASL_METHOD.search(found["rest"]):
                mail.sasl_method = method[1]
            if user := _SASL_USER.search(found["rest"]):
                mail.sasl_username = user[1]
            self.queued[mail.id] = mail
            refusal = self._open_refusal.pop(pid, None)
            if refusal is not None and refusal.client_address == mail.client_address:
                self._refusal_before[mail.id] = refusal
            return True
        if found := _REJECT.match(message):
            self._reject(number, pid, found)
            return True
        return False

    def _reject(self, number: int, pid: str, found: re.Match[str]) -> None:
        session = self.sessions.setdefault(pid, _Session(found["name"], found["address"]))
        if found["helo"]:
            session.helo = found["helo"]
        recipient, sender = found["recipient"], found["sender"]
        refused_now = found["verdict"] != "reject_warning"
        if found["qid"] != "NOQUEUE":
            mail = self.queued.get(found["qid"])
            if mail is not None and refused_now and recipient not in mail.rejected:
                mail.rejected.append(recipient)
                mail.add_recipient(recipient)
            return
        if not refused_now:
            return
        mail = self._open_refusal.get(pid)
        if mail is None or mail.sender != sender or mail.client_address != found["address"]:
            mail = ImportedMail(
                f"NOQUEUE@{number}",
                number,
                found["name"],
                found["address"],
                helo=session.helo,
                sender=sender,
                pid=pid,
            )
            if found["proto"]:
                mail.protocol_name = found["proto"]
            self.refused.append(mail)
            self._open_refusal[pid] = mail
        mail.add_recipient(recipient)
        if recipient not in mail.rejected:
            mail.rejected.append(recipient)

    def _envelope(self, message: str) -> bool:
        if found := _SENDER.match(message):
            mail = self.queued.get(found["qid"])
            if mail is None:
                return False
            mail.sender = found["sender"]
            if found["size"]:
                mail.size = int(found["size"])
            return True
        if found := _CLEANUP_REJECT.match(message):
            mail = self.queued.get(found["qid"])
            if mail is None:
                return False
            if mail.sender is None:
                mail.sender = found["sender"]
            mail.helo = mail.helo or found["helo"] or ""
            mail.add_recipient(found["recipient"])
            return True
        return False

    def _delivery(self, message: str) -> bool:
        found = _DELIVERY.match(message)
        if found is None or found["qid"] not in self.queued:
            return False
        self.queued[found["qid"]].add_recipient(found["orig"] or found["to"])
        return True

    def mails(self) -> list[ImportedMail]:
        """Every transaction, a refusal merged into the queued mail it preceded (same sender)."""
        merged_refusals = set()
        for qid, refusal in self._refusal_before.items():
            mail = self.queued[qid]
            if mail.sender == refusal.sender:
                mail.recipients[:0] = [
                    address for address in refusal.recipients if address not in mail.recipients
                ]
                mail.rejected[:0] = [address for address in refusal.rejected if address not in mail.rejected]
                mail.helo = mail.helo or refusal.helo
                mail.line = refusal.line
                merged_refusals.add(refusal.id)
        found = [mail for mail in self.queued.values() if mail.recipients]
        found += [mail for mail in self.refused if mail.id not in merged_refusals]
        return sorted(found, key=lambda mail: mail.line)


def _mail_document(mail: ImportedMail, pseudonyms: Pseudonymiser | None) -> dict[str, Any]:
    def same(text: str) -> str:
        return text

    host = pseudonyms.host if pseudonyms else same
    address = pseudonyms.address if pseudonyms else same
    ip = pseudonyms.ip if pseudonyms else same
    user = pseudonyms.user if pseudonyms else same
    document: dict[str, Any] = {
        "id": mail.id,
        "client_address": ip(mail.client_address),
        "client_name": host(mail.client_name),
        "helo": host(
            mail.helo or (mail.client_name if mail.client_name != "unknown" else f"[{mail.client_address}]")
        ),
        "sender": address(mail.sender or ""),
    }
    if mail.sasl_username:
        document["sasl_username"] = user(mail.sasl_username)
        document["sasl_method"] = mail.sasl_method or "PLAIN"
    if mail.size:
        document["size"] = mail.size
    if mail.protocol_name != "ESMTP":
        document["protocol_name"] = mail.protocol_name
    document["recipients"] = [address(recipient) for recipient in mail.recipients]
    return document


def sample_maillog() -> Path:
    """The sample Postfix mail log installed with policy-sim (``policy_sim/data/sample-maillog``)."""
    return Path(str(resources.files("policy_sim") / "data" / "sample-maillog"))


def import_maillog(
    lines: Iterable[str],
    services: dict[str, str],
    stages: Sequence[StageSpec],
    pseudonyms: Pseudonymiser | None = None,
) -> tuple[dict[str, Any], MaillogReader]:
    """A trace document for the mails of the log, and the reader (for its counts)."""
    reader = MaillogReader()
    reader.feed(lines)
    document = {
        "version": 1,
        "services": dict(services),
        "stages": [stage.as_document() for stage in stages],
        "mails": [_mail_document(mail, pseudonyms) for mail in reader.mails()],
    }
    return document, reader
