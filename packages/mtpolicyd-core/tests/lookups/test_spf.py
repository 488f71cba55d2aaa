import socket

import pytest
from mtpolicyd_core.lookups.spf import mail_spf_mechanism, receiving_host, sanitize
from mtpolicyd_core.lookups.spf_wording import error_text


@pytest.mark.parametrize(
    ("term", "written"),
    [
        ("-all", "-all"),
        ("+all", "all"),
        ("-IP4:192.0.2.1/32", "-ip4:192.0.2.1"),
        ("~ip4:192.0.2.0/24", "~ip4:192.0.2.0/24"),
        ("ip6:2001:DB8::0/128", "ip6:2001:db8::"),
        ("mx/32//128", "mx"),
        ("-a:x.example/24", "-a:x.example/24"),
        ("-mx:x.example//64", "-mx:x.example//64"),
        ("?exists:%{i}.x", "?exists:%{i}.x"),
    ],
)
def test_mechanisms_are_written_as_mail_spf_writes_them(term: str, written: str) -> None:
    assert mail_spf_mechanism(term) == written


def test_pyspf_errors_read_as_mail_spf_words_them() -> None:
    assert error_text("permerror", "SPF Permanent Error: Void lookup limit of 2 exceeded") == (
        "Maximum void DNS look-ups limit (2) exceeded"
    )
    assert error_text("permerror", "SPF Permanent Error: Two or more type TXT spf records found.") == (
        "Redundant applicable 'v=spf1' sender policies found"
    )
    assert error_text("none", "") == "No applicable sender policy available"


def test_sanitize_escapes_control_and_wide_characters() -> None:
    assert sanitize("a\x01b\xe9c\u20ac") == "a\\x01b\\xe9c\\x{20ac}"


def test_receiving_host_is_the_canonical_name_as_mail_spf_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mail::SPF: (gethostbyname(Sys::Hostname::hostname))[0], the full name from /etc/hosts or DNS
    monkeypatch.setattr(socket, "gethostname", lambda: "mx")
    monkeypatch.setattr(socket, "gethostbyname_ex", lambda name: (f"{name}.example.com", [], ["192.0.2.1"]))
    receiving_host.cache_clear()
    assert receiving_host() == "mx.example.com"


def test_receiving_host_falls_back_to_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def unresolvable(name: str) -> None:
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "gethostname", lambda: "mx")
    monkeypatch.setattr(socket, "gethostbyname_ex", unresolvable)
    receiving_host.cache_clear()
    assert receiving_host() == "mx"
    receiving_host.cache_clear()
