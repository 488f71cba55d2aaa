import logging
import time

import pytest
from dns_fakes import FakeDnsServer
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.lookups.dns import Blocklist, listing_info, net_dns_txt
from mtpolicyd_core.lookups.process_resolver import ProcessResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig

LOGGER = logging.LoggerAdapter(logging.getLogger("test"), {})
ZONE = {
    ("2.0.0.127.bl.test.", "A"): ["127.0.0.2"],
    ("2.0.0.127.bl.test.", "TXT"): ['"Listed, see http://bl.test/?127.0.0.2"'],
    ("4.0.0.127.bl.test.", "A"): ["127.0.0.4"],
    ("bad.example.dbl.test.", "A"): ["127.0.1.2"],
    ("bad.example.dbl.test.", "TXT"): ["nospace", '"second one"'],
    ("mail.bad.example.", "A"): ["127.0.0.2"],
}


def blocklist(server: FakeDnsServer, domain: str = "bl.test") -> Blocklist:
    return Blocklist(domain, ProcessResolver(ResolverConfig.from_system(server.env)), LOGGER)


async def test_listed_ip_gives_address_and_txt_text() -> None:
    with FakeDnsServer(ZONE) as server:
        assert await blocklist(server).check("127.0.0.2") == [
            "127.0.0.2",
            '"Listed, see http://bl.test/?127.0.0.2"',
        ]


async def test_listed_ip_without_txt_gives_first_address_only() -> None:
    with FakeDnsServer(ZONE) as server:
        assert await blocklist(server).check("127.0.0.4") == ["127.0.0.4"]


async def test_unlisted_ip_gives_nothing() -> None:
    with FakeDnsServer(ZONE) as server:
        assert await blocklist(server).check("127.0.0.1") == []


async def test_ipv6_address_is_not_looked_up() -> None:
    with FakeDnsServer(ZONE) as server:
        assert await blocklist(server).check("2001:db8::1") == []
        assert server.queries == []


async def test_hostname_is_checked_by_its_first_ipv4_address() -> None:
    with FakeDnsServer(ZONE) as server:
        assert (await blocklist(server).check("mail.bad.example"))[0] == "127.0.0.2"


async def test_missing_host_is_an_error() -> None:
    with FakeDnsServer(ZONE) as server, pytest.raises(ValueError):
        await blocklist(server).check("")


async def test_rhsbl_lookup_gives_every_txt_record() -> None:
    with FakeDnsServer(ZONE) as server:
        listing = await blocklist(server, "dbl.test").check_rhsbl("bad.example")
    assert listing[0] == "127.0.1.2"
    assert sorted(listing[1:]) == ['"second one"', "nospace"]


async def test_dns_timeout_is_logged_and_counts_as_not_listed(caplog: pytest.LogCaptureFixture) -> None:
    with FakeDnsServer(ZONE, silent=True) as server:
        started = time.monotonic()
        assert await blocklist(server).check("127.0.0.2") == []
    assert time.monotonic() - started < 5
    assert "DNS lookup 2.0.0.127.bl.test A failed" in caplog.text


async def test_invalid_name_counts_as_not_listed() -> None:
    with FakeDnsServer(ZONE) as server:
        assert await blocklist(server, "dbl.test").check_rhsbl("a..b") == []


def test_listing_info_is_the_first_txt_text() -> None:
    assert listing_info(["127.0.0.2", "a", "b"]) == "a"
    assert listing_info(["127.0.0.2"]) is None


@pytest.mark.parametrize(
    ("strings", "text"),
    [
        ([b"nospace"], "nospace"),
        ([b"Listed, see x"], '"Listed, see x"'),
        ([b'Spam "source" \\ back'], '"Spam \\"source\\" \\\\ back"'),
        ([b"a;b"], '"a;b"'),
        ([b"tab\there"], "tab\\009here"),
        ([b""], '""'),
        ([b"one", b"two words"], 'one "two words"'),
        ([b"x" * 60, b"y" * 30], "x" * 60 + "\n\t" + "y" * 30),
        ("grüß".encode(), "grüß"),
    ],
)
def test_txt_text_reads_as_net_dns_shows_it(strings: list[bytes] | bytes, text: str) -> None:
    assert net_dns_txt(strings if isinstance(strings, list) else [strings]) == text


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=3))
def test_txt_text_never_holds_a_bare_control_character(strings: list[bytes]) -> None:
    text = net_dns_txt(strings)
    assert not any(ord(char) < 32 and char not in "\n\t" for char in text)
