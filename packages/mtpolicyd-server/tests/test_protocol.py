"""Policy protocol framing: requests from bytes in any pieces, limits, replies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.result import ChainResult, PluginResult
from mtpolicyd_server.protocol import (
    Limits,
    PolicyRequest,
    ProtocolError,
    RequestParser,
    encode_reply,
    encode_request,
)

POSTFIX_REQUEST = (
    b"request=smtpd_access_policy\nprotocol_state=RCPT\ninstance=123.456.7\n"
    b"sender=foo@bar.tld\nrecipient=bar@foo.tld\nclient_address=192.0.2.1\n\n"
)

#: names and values as Postfix can send them: no newline, no NUL; names without "="
names = st.text(st.characters(blacklist_characters="=\n\r\0", blacklist_categories=["Cs"]), min_size=1)
values = st.text(st.characters(blacklist_characters="\n\0", blacklist_categories=["Cs"])).filter(
    lambda value: not value.endswith("\r")
)
attribute_dicts = st.dictionaries(names, values, max_size=30)


def parse(data: bytes, limits: Limits | None = None) -> list[PolicyRequest]:
    return RequestParser(limits).feed(data)


def test_postfix_request_is_parsed_into_attributes() -> None:
    [request] = parse(POSTFIX_REQUEST)
    assert request.attributes["protocol_state"] == "RCPT"
    assert request.attributes["instance"] == "123.456.7"
    assert len(request.attributes) == 6
    assert not request.invalid_utf8


def test_line_is_split_at_the_first_equals_sign() -> None:
    [request] = parse(b"sasl_username=a=b==c\n\n")
    assert request.attributes == {"sasl_username": "a=b==c"}


def test_trailing_carriage_return_is_stripped() -> None:
    [request] = parse(b"request=smtpd_access_policy\r\ninstance=x\r\n\r\n")
    assert request.attributes == {"request": "smtpd_access_policy", "instance": "x"}


def test_repeated_name_keeps_the_last_value() -> None:
    [request] = parse(b"recipient=a@x\nrecipient=b@x\n\n")
    assert request.attributes == {"recipient": "b@x"}


def test_unknown_names_and_empty_values_are_kept() -> None:
    [request] = parse(b"some_future_attribute=1\nsender=\n\n")
    assert request.attributes == {"some_future_attribute": "1", "sender": ""}


def test_several_requests_in_one_read_come_out_in_order() -> None:
    requests = parse(b"instance=1\n\ninstance=2\n\ninstance=3\n")
    assert [r.attributes["instance"] for r in requests] == ["1", "2"]


def test_parser_is_pending_only_inside_a_request() -> None:
    parser = RequestParser()
    assert not parser.pending
    parser.feed(b"instance=1\nsend")
    assert parser.pending
    parser.feed(b"er=x\n\n")
    assert not parser.pending


def test_line_without_equals_sign_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="without '='"):
        parse(b"request=smtpd_access_policy\ngarbage\n\n")


def test_nul_byte_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="NUL"):
        parse(b"sender=a\0b\n\n")


def test_overlong_line_fails_before_its_newline_arrives() -> None:
    parser = RequestParser(Limits(max_line_length=100))
    parser.feed(b"x=" + b"a" * 98)
    with pytest.raises(ProtocolError, match="max_line_length"):
        parser.feed(b"a")


def test_line_of_exactly_the_limit_is_accepted() -> None:
    [request] = parse(b"x=" + b"a" * 98 + b"\n\n", Limits(max_line_length=100))
    assert request.attributes["x"] == "a" * 98


def test_request_larger_than_the_limit_fails() -> None:
    limits = Limits(max_line_length=100, max_request_size=1000)
    with pytest.raises(ProtocolError, match="max_request_size"):
        parse(b"x=aaaaaaaa\n" * 100, limits)


def test_too_many_attributes_fail() -> None:
    data = b"".join(b"a%d=1\n" % number for number in range(11)) + b"\n"
    with pytest.raises(ProtocolError, match="max_request_attributes"):
        parse(data, Limits(max_request_attributes=10))


def test_request_size_is_counted_per_request() -> None:
    parser = RequestParser(Limits(max_request_size=20))
    for _ in range(10):
        assert len(parser.feed(b"instance=12345678\n\n")) == 1


def test_invalid_utf8_is_kept_byte_for_byte_and_flagged() -> None:
    [request] = parse(b"sender=caf\xe9@x\n\n")
    assert request.invalid_utf8
    assert request.attributes["sender"].encode("utf-8", "surrogateescape") == b"caf\xe9@x"


def test_reply_has_action_lines_and_an_empty_line() -> None:
    result = ChainResult([PluginResult("PREPEND X-Test: yes"), PluginResult("reject go away", abort=True)])
    assert encode_reply(result) == b"action=PREPEND X-Test: yes\naction=reject go away\n\n"


def test_reply_without_actions_is_dunno() -> None:
    assert encode_reply(ChainResult()) == b"action=dunno\n\n"


@given(attribute_dicts)
def test_any_well_formed_request_round_trips(attributes: dict[str, str]) -> None:
    [request] = parse(encode_request(attributes))
    assert request.attributes == attributes


@given(st.lists(attribute_dicts, min_size=1, max_size=5), st.data())
def test_split_points_do_not_change_the_requests(batch: list[dict[str, str]], data: st.DataObject) -> None:
    stream = b"".join(encode_request(attributes) for attributes in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    parser = RequestParser()
    requests = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        requests += parser.feed(stream[start:end])
    # an empty request ends the conversation: nothing after it is parsed
    expected = batch[: batch.index({}) + 1] if {} in batch else batch
    assert [request.attributes for request in requests] == expected
    assert not parser.pending


def test_an_empty_request_is_returned_once_and_ends_the_conversation() -> None:
    parser = RequestParser()
    requests = parser.feed(b"instance=1\n\n" + b"\n" * 100_000)
    assert [request.attributes for request in requests] == [{"instance": "1"}, {}]
    assert parser.ended
    assert parser.feed(b"instance=2\n\n") == []


@given(st.lists(st.binary(max_size=300), max_size=10))
def test_junk_raises_nothing_but_protocol_error(chunks: list[bytes]) -> None:
    parser = RequestParser(Limits(max_line_length=200, max_request_size=1000, max_request_attributes=20))
    try:
        for chunk in chunks:
            for request in parser.feed(chunk):
                assert isinstance(request.attributes, dict)
    except ProtocolError:
        pass
