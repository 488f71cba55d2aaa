"""Addresses of policy services."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_sim.endpoint import Endpoint, parse_endpoint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:12345", Endpoint("127.0.0.1", 12345)),
        ("12345", Endpoint("127.0.0.1", 12345)),
        ("inet:localhost:10023", Endpoint("localhost", 10023)),
        ("[::1]:25", Endpoint("::1", 25)),
    ],
)
def test_address_forms(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["host", "host:0", "host:70000", "[::1]25", "a:b"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad address"):
        parse_endpoint(text)


@given(st.sampled_from(["127.0.0.1", "::1", "mx.example.org"]), st.integers(1, 65535))
def test_printed_endpoint_parses_back(host: str, port: int) -> None:
    assert parse_endpoint(str(Endpoint(host, port))) == Endpoint(host, port)
