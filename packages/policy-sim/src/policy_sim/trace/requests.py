"""Turn a mail's stages into the attribute sets Postfix's smtpd sends (SMTPD_POLICY_README)."""

from __future__ import annotations

from dataclasses import dataclass

from policy_sim.trace.model import Mail, Stage, Trace

#: States before MAIL FROM: no envelope yet.
_BEFORE_MAIL = {"CONNECT", "EHLO", "HELO", "ETRN"}
#: States after the recipients: recipient_count is set, recipient only when there is one.
_AFTER_RCPT = {"DATA", "END-OF-MESSAGE"}

COMPATIBILITY_LEVEL = "3.6"
MAIL_VERSION = "3.7.11"


@dataclass(frozen=True)
class Transaction:
    """What smtpd knows about the mail so far when it asks the policy service."""

    instance: str
    queue_id: str = ""
    accepted: tuple[str, ...] = ()


def postfix_attributes(
    trace: Trace, mail: Mail, stage: Stage, recipient: str, transaction: Transaction
) -> dict[str, str]:
    """The request for ``stage`` (``recipient`` is the RCPT being asked about, else empty)."""
    state = stage.state
    before_mail = state in _BEFORE_MAIL
    if state in _AFTER_RCPT:
        recipient = transaction.accepted[0] if len(transaction.accepted) == 1 else ""
        recipient_count = str(len(transaction.accepted))
    else:
        recipient_count = "0"
    service = trace.services.get(stage.service)
    attributes = {
        "request": "smtpd_access_policy",
        "protocol_state": state,
        "protocol_name": mail.protocol_name,
        "helo_name": "" if state == "CONNECT" else mail.helo,
        "queue_id": transaction.queue_id,
        "sender": "" if before_mail else mail.sender,
        "recipient": recipient,
        "recipient_count": recipient_count,
        "client_address": mail.client_address,
        "client_name": mail.client_name,
        "reverse_client_name": mail.reverse_client_name,
        "instance": transaction.instance,
        "sasl_method": mail.sasl_method,
        "sasl_username": mail.sasl_username,
        "sasl_sender": mail.sasl_sender,
        "size": str(mail.size),
        "ccert_subject": "",
        "ccert_issuer": "",
        "ccert_fingerprint": "",
        "ccert_pubkey_fingerprint": "",
        "encryption_protocol": "",
        "encryption_cipher": "",
        "encryption_keysize": "0",
        "etrn_domain": "",
        "stress": "",
        "policy_context": service.policy_context if service else "",
        "server_address": trace.server_address,
        "server_port": trace.server_port,
        "compatibility_level": COMPATIBILITY_LEVEL,
        "mail_version": MAIL_VERSION,
    }
    attributes.update(mail.attributes)
    attributes.update(stage.attributes)
    return attributes
