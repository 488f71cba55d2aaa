"""The sample mail log imports to the mails, recipients and clients it records."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from policy_sim.anonymise import Pseudonymiser
from policy_sim.generate import StageSpec
from policy_sim.maillog import import_maillog, sample_maillog
from policy_sim.trace import parse_trace
from policy_sim.trace.writer import dump_document

SAMPLE = sample_maillog()
SERVICES = {"policy": "127.0.0.1:12345"}
STAGES = [StageSpec("RCPT", "policy"), StageSpec("END-OF-MESSAGE", "policy")]

# (id, client address, client name, helo, sender, sasl user, recipients) as the log shows them
EXPECTED = [
    (
        "4A1B2C3D01",
        "192.0.2.10",
        "mail.example.net",
        "mail.example.net",
        "alice@example.net",
        "",
        ["bob@example.org", "carol@example.org"],
    ),
    (
        "NOQUEUE@14",
        "198.51.100.23",
        "unknown",
        "spam-host",
        "spam@spammer.test",
        "",
        ["dave@example.org", "erin@example.org"],
    ),
    (
        "5C6D7E8F02",
        "203.0.113.45",
        "laptop.dyn.example.com",
        "laptop.dyn.example.com",
        "frank@example.org",
        "frank",
        ["x1@remote.test", "x2@remote.test", "x3@other.test"],
    ),
    (
        "6E7F8A9B03",
        "192.0.2.10",
        "mail.example.net",
        "mail.example.net",
        "alice@example.net",
        "",
        ["postmaster@example.org"],
    ),
    (
        "7A8B9C0D04",
        "192.0.2.77",
        "relay.partner.test",
        "relay.partner.test",
        "news@partner.test",
        "",
        ["gone@example.org", "bob@example.org", "grace@example.org"],
    ),
    ("NOQUEUE@41", "198.51.100.99", "unknown", "[198.51.100.99]", "", "", ["bob@example.org"]),
    (
        "8B9C0D1E05",
        "192.0.2.77",
        "relay.partner.test",
        "relay.partner.test",
        "billing@partner.test",
        "",
        ["nobody@example.org", "a1@example.org", "a2@example.org", "a3@example.org", "a4@example.org"],
    ),
    (
        "0D1E2F3A07",
        "192.0.2.200",
        "mx.bulk.test",
        "mx.bulk.test",
        "list@bulk.test",
        "",
        [f"u{n}@example.org" for n in range(1, 7)],
    ),
    (
        "9C0D1E2F06",
        "203.0.113.45",
        "laptop.dyn.example.com",
        "laptop.dyn.example.com",
        "frank@example.org",
        "frank@example.org",
        ["y@remote.test"],
    ),
    ("NOQUEUE@69", "192.0.2.200", "mx.bulk.test", "mx.bulk.test", "list@bulk.test", "", ["u7@example.org"]),
    ("NOQUEUE@70", "192.0.2.200", "mx.bulk.test", "mx.bulk.test", "promo@bulk.test", "", ["u8@example.org"]),
    ("1E2F3A4B08", "198.51.100.5", "unknown", "spambox", "x@spam.test", "", ["bob@example.org"]),
    (
        "2A3B4C5D10",
        "192.0.2.10",
        "mail.example.net",
        "mail.example.net",
        "alice@example.net",
        "",
        ["bob@example.org", "carol@example.org", "dave@example.org"],
    ),
    (
        "NOQUEUE@94",
        "2001:db8::77",
        "unknown",
        "[IPv6:2001:db8::77]",
        "bot@botnet.test",
        "",
        ["carol@example.org"],
    ),
    (
        "4B5C6D7E11",
        "198.51.100.150",
        "phone.mobile.example",
        "phone.mobile.example",
        "grace@example.org",
        "grace",
        ["p1@remote.test", "p2@remote.test", "bob@example.org"],
    ),
    (
        "NOQUEUE@107",
        "192.0.2.11",
        "mx2.example.net",
        "mx2.example.net",
        "alice@example.net",
        "",
        ["nosuch@example.org"],
    ),
    (
        "5C6D7E8F12",
        "192.0.2.11",
        "mx2.example.net",
        "mx2.example.net",
        "other@example.net",
        "",
        ["carol@example.org"],
    ),
]


def imported(pseudonyms: Pseudonymiser | None = None) -> dict[str, Any]:
    with SAMPLE.open() as lines:
        document, _ = import_maillog(lines, SERVICES, STAGES, pseudonyms)
    return document


def test_sample_maillog_imports_to_the_mails_recipients_and_clients_of_the_log() -> None:
    trace = parse_trace(dump_document(imported()), "sample.yaml")
    found = [
        (
            mail.id,
            mail.client_address,
            mail.client_name,
            mail.helo,
            mail.sender,
            mail.sasl_username,
            list(mail.recipients),
        )
        for mail in trace.mails
    ]
    assert found == EXPECTED
    assert [stage.state for stage in trace.mails[0].stages] == ["RCPT", "END-OF-MESSAGE"]


def test_sample_maillog_is_over_a_hundred_lines_from_several_smtpd_processes() -> None:
    lines = SAMPLE.read_text().splitlines()
    assert len(lines) > 100
    assert len({line.split("[")[1].split("]")[0] for line in lines if "/smtpd[" in line}) >= 8


def test_mails_submitted_locally_are_not_imported() -> None:
    mails = imported()["mails"]
    assert all(mail["id"] != "3F4A5B6C09" for mail in mails)


def test_anonymised_import_hides_every_address_host_and_ip() -> None:
    text = dump_document(imported(Pseudonymiser(b"k")))
    for secret in (
        "example.org",
        "example.net",
        "192.0.2.10",
        "2001:db8",
        "alice",
        "frank",
        "grace@",
        "partner.test",
        "laptop",
    ):
        assert secret not in text


def test_anonymised_pseudonyms_are_stable_per_key() -> None:
    first = imported(Pseudonymiser(b"key-1"))
    mails = first["mails"]
    bob = mails[0]["recipients"][0]
    assert bob == "u95c4a30b@d15a376b6.example"  # keyed: the same key gives this pseudonym in every run
    assert imported(Pseudonymiser(b"key-2"))["mails"][0]["recipients"][0] != bob
    assert mails[4]["recipients"][1] == bob  # same person, same pseudonym
    assert mails[0]["client_address"] == mails[3]["client_address"]
    assert len({mail["client_address"] for mail in mails}) == len({row[1] for row in EXPECTED})


addresses = st.from_regex(r"[a-z][a-z0-9.]{0,8}@[a-z]{1,8}\.(org|net|test)", fullmatch=True)
logged_mails = st.lists(
    st.tuples(st.integers(1, 250), addresses, st.lists(addresses, min_size=1, max_size=6, unique=True)),
    min_size=1,
    max_size=8,
)


@given(logged_mails)
def test_queued_mails_of_any_log_come_back_with_their_envelopes(
    mails: list[tuple[int, str, list[str]]],
) -> None:
    lines = []
    for number, (host, sender, recipients) in enumerate(mails):
        qid, pid, client = f"{number + 1:X}ABCDEF", 3000 + number, f"h{host}.example[192.0.2.{host}]"
        lines += [
            f"Nov 24 10:00:00 mx postfix/smtpd[{pid}]: connect from {client}",
            f"Nov 24 10:00:01 mx postfix/smtpd[{pid}]: {qid}: client={client}",
            f"Nov 24 10:00:01 mx postfix/qmgr[99]: {qid}: from=<{sender}>, size=10, nrcpt={len(recipients)}",
        ]
        lines += [
            f"Nov 24 10:00:02 mx postfix/lmtp[77]: {qid}: to=<{rcpt}>, relay=x, status=sent (ok)"
            for rcpt in recipients
        ]
    document, _ = import_maillog(lines, SERVICES, STAGES)
    found = [(mail["client_address"], mail["sender"], mail["recipients"]) for mail in document["mails"]]
    assert found == [(f"192.0.2.{host}", sender, recipients) for host, sender, recipients in mails]


@given(st.lists(st.text(max_size=200), max_size=30))
def test_arbitrary_lines_never_break_the_reader(lines: list[str]) -> None:
    prefix = "Nov 24 10:00:00 mx postfix/smtpd[1]: "
    import_maillog([prefix + line for line in lines] + lines, SERVICES, STAGES)
