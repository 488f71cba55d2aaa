"""Policy protocol framing from the client side."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_sim.protocol import PolicyReply, ProtocolError, ServerClosed, encode_request, read_reply

names = st.text(
    alphabet=st.characters(blacklist_characters="=\n\r", blacklist_categories=["Cs"]), min_size=1, max_size=20
)
values = st.text(
    alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]), max_size=40
)


def parse(data: bytes) -> PolicyReply:
    async def go() -> PolicyReply:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_reply(reader)

    return asyncio.run(go())


@given(st.dictionaries(names, values, min_size=1), values)
def test_encoded_attributes_parse_back_in_order(attributes: dict[str, str], action: str) -> None:
    encoded = encode_request({"action": action, **attributes})
    assert encoded.endswith(b"\n\n")
    reply = parse(encoded)
    assert reply.attributes == tuple({"action": action, **attributes}.items())


def test_several_action_lines_are_joined_and_crlf_is_stripped() -> None:
    reply = parse(b"action=PREPEND X-Test: 1\r\naction=dunno\r\n\r\n")
    assert reply.actions == ["PREPEND X-Test: 1", "dunno"]
    assert reply.action == "PREPEND X-Test: 1\ndunno"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ServerClosed),
        (b"action=dunno\n", ServerClosed),
        (b"garbage\n\n", ProtocolError),
        (b"foo=bar\n\n", ProtocolError),
    ],
)
def test_bad_or_cut_replies_raise(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse(data)


def test_newline_in_a_value_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        encode_request({"sender": "a\nb"})
