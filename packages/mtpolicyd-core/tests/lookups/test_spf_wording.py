"""pyspf's error messages in Mail::SPF's words (the texts the policy answers show)."""

from __future__ import annotations

import pytest
from mtpolicyd_core.lookups.spf_wording import dns_error_text, error_text, macro_error_text


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("Invalid IP4 address: ip4:300.1.1.1", "Missing required IPv4 address in 'ip4:300.1.1.1'"),
        (
            "Invalid IP4 CIDR length: ip4:1.2.3.0/33",
            "Invalid IPv4 prefix length encountered in 'ip4:1.2.3.0/33'",
        ),
        (
            "redirect domain has no SPF record: a.test",
            "Redirect domain 'a.test' has no applicable sender policy",
        ),
        ("redirect has empty domain:", "Missing required domain-spec in 'redirect='"),
        (
            "redirect= MUST appear at most once: redirect=b",
            "Duplicate global modifier 'redirect' encountered",
        ),
        ("include has trivial recursion: include:a.test", "Maximum DNS-interactive terms limit (7) exceeded"),
        ("SPF Permanent Error: More than 10 DNS lookups", "Maximum DNS-interactive terms limit (7) exceeded"),
    ],
)
def test_permerror_messages_are_worded_as_mail_spf(message: str, text: str) -> None:
    assert error_text("permerror", message, limit=7) == text


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("SERVFAIL", "'SERVFAIL' error on DNS 'TXT' lookup of 'a.test'"),
        ("query timed out", "Time-out on DNS 'TXT' lookup of 'a.test'"),
        ("network unreachable", "Unknown error on DNS 'TXT' lookup of 'a.test'"),
    ],
)
def test_temperror_look_ups_are_worded_as_mail_spf(reason: str, text: str) -> None:
    assert dns_error_text(reason, "A.test.", "SPF") == text


def test_unknown_macro_names_its_letter_and_position() -> None:
    assert (
        macro_error_text("%{Z}", "x.%{Z}.test")
        == "Unknown macro character 'z' at pos 2 in macro string 'x.%{Z}.test'"
    )
