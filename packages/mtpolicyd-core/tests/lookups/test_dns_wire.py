"""The wire codec against dnspython as the oracle: same values decoded, same question encoded,
and malformed input only ever raises DnsWireError."""

import contextlib
import ipaddress
import struct

import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.nsbase
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mtpolicyd_core.lookups.dns_wire import (
    FLAG_RD,
    FLAG_TC,
    SERVFAIL,
    DnsMessage,
    DnsWireError,
    MxData,
    Question,
    RecordData,
    ResourceRecord,
    SoaData,
    decode_response,
    encode_name,
    encode_query,
    names_equal,
)

IN = dns.rdataclass.IN
PRIVATE_TYPE = 65280

# --- dnspython-built messages -----------------------------------------------------------------

#: labels from a small set (so names share suffixes and compression happens) or any bytes at all
labels = st.one_of(
    st.sampled_from([b"test", b"example", b"bl", b"Mail", b"x.y", b"a b", b"@", b"\\", b"\x00", b"\xc3\xa9"]),
    st.binary(min_size=1, max_size=63),
)


def wire_length(name_labels: list[bytes]) -> int:
    return sum(len(label) + 1 for label in name_labels) + 1


names = (
    st.lists(labels, max_size=6)
    .filter(lambda name_labels: wire_length(name_labels) <= 255)
    .map(lambda name_labels: dns.name.Name([*name_labels, b""]))
)


@st.composite
def rdatas(draw: st.DrawFn, pool: list[dns.name.Name]) -> dns.rdata.Rdata:
    """One record value of a type the codec decodes (or of a private type it keeps raw)."""
    target = st.sampled_from(pool) | names
    kind = draw(st.sampled_from(["A", "AAAA", "TXT", "MX", "CNAME", "PTR", "NS", "SOA", "private"]))
    if kind == "A":
        return dns.rdtypes.IN.A.A(IN, dns.rdatatype.A, str(draw(st.ip_addresses(v=4))))
    if kind == "AAAA":
        return dns.rdtypes.IN.AAAA.AAAA(IN, dns.rdatatype.AAAA, str(draw(st.ip_addresses(v=6))))
    if kind == "TXT":
        strings = draw(st.lists(st.binary(max_size=255), min_size=1, max_size=4))
        return dns.rdtypes.ANY.TXT.TXT(IN, dns.rdatatype.TXT, strings)
    if kind == "MX":
        preference = draw(st.integers(0, 65535))
        return dns.rdtypes.ANY.MX.MX(IN, dns.rdatatype.MX, preference, draw(target))
    if kind in ("CNAME", "PTR", "NS"):
        kinds: dict[str, type[dns.rdtypes.nsbase.NSBase]] = {
            "CNAME": dns.rdtypes.ANY.CNAME.CNAME,
            "PTR": dns.rdtypes.ANY.PTR.PTR,
            "NS": dns.rdtypes.ANY.NS.NS,
        }
        return kinds[kind](IN, dns.rdatatype.from_text(kind), draw(target))
    if kind == "SOA":
        timers = draw(st.lists(st.integers(0, 2**32 - 1), min_size=5, max_size=5))
        return dns.rdtypes.ANY.SOA.SOA(IN, dns.rdatatype.SOA, draw(target), draw(target), *timers)
    return dns.rdata.GenericRdata(
        IN, dns.rdatatype.RdataType.make(PRIVATE_TYPE), draw(st.binary(max_size=40))
    )


@st.composite
def sections(draw: st.DrawFn, pool: list[dns.name.Name]) -> list[dns.rrset.RRset]:
    """Record sets with distinct (name, type), so dnspython's parse keeps the wire order."""
    rrsets: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
    for _ in range(draw(st.integers(0, 4))):
        owner = draw(st.sampled_from(pool))
        value = draw(rdatas(pool))
        if (owner, value.rdtype) not in rrsets:
            rrset = dns.rrset.RRset(owner, IN, value.rdtype)
            rrset.update_ttl(draw(st.integers(0, 2**32 - 1)))
            rrsets[(owner, value.rdtype)] = rrset
        rrsets[(owner, value.rdtype)].add(value)
    return list(rrsets.values())


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A response built and compressed by dnspython, in wire form."""
    pool = draw(st.lists(names, min_size=1, max_size=4))
    message = dns.message.Message(id=draw(st.integers(0, 65535)))
    message.flags = draw(st.integers(0, 65535)) & ~0x7800  # opcode QUERY: dnspython parses others apart
    if draw(st.booleans()):
        rdtype = draw(st.sampled_from([1, 2, 5, 6, 12, 15, 16, 28, PRIVATE_TYPE]))
        question_type = dns.rdatatype.RdataType.make(rdtype)
        message.question.append(dns.rrset.RRset(draw(st.sampled_from(pool)), IN, question_type))
    message.answer.extend(draw(sections(pool)))
    message.authority.extend(draw(sections(pool)))
    message.additional.extend(draw(sections(pool)))
    return message.to_wire(want_shuffle=False)


def text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def expected_value(rdata: dns.rdata.Rdata) -> RecordData:
    """What the codec must make of a record, from dnspython's parse."""
    if isinstance(rdata, dns.rdtypes.IN.A.A):
        return str(rdata.address)
    if isinstance(rdata, dns.rdtypes.IN.AAAA.AAAA):
        return str(ipaddress.IPv6Address(rdata.address))
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        return tuple(rdata.strings)
    if isinstance(rdata, dns.rdtypes.ANY.MX.MX):
        return MxData(rdata.preference, text(rdata.exchange))
    if isinstance(rdata, dns.rdtypes.ANY.SOA.SOA):
        return SoaData(
            text(rdata.mname), text(rdata.rname), rdata.serial, rdata.refresh, rdata.retry, rdata.expire,
            rdata.minimum,
        )  # fmt: skip
    if isinstance(rdata, (dns.rdtypes.ANY.CNAME.CNAME, dns.rdtypes.ANY.PTR.PTR, dns.rdtypes.ANY.NS.NS)):
        return text(rdata.target)
    return rdata.to_digestable()


def expected_records(section: list[dns.rrset.RRset]) -> tuple[ResourceRecord, ...]:
    return tuple(
        ResourceRecord(text(rrset.name), rrset.rdtype, rrset.rdclass, rrset.ttl, expected_value(rdata))
        for rrset in section
        for rdata in rrset
    )


def dnspython_view(wire: bytes) -> DnsMessage:
    oracle = dns.message.from_wire(wire)
    return DnsMessage(
        oracle.id,
        struct.unpack_from("!H", wire, 2)[0],
        tuple(Question(text(rrset.name), rrset.rdtype, rrset.rdclass) for rrset in oracle.question),
        expected_records(oracle.answer),
        expected_records(oracle.authority),
        expected_records(oracle.additional),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_messages_built_by_dnspython_decode_to_the_same_values(wire: bytes) -> None:
    assert decode_response(wire) == dnspython_view(wire)


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_dns_wire_error(data: bytes) -> None:
    with contextlib.suppress(DnsWireError):
        decode_response(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(messages()))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(wire)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "append"]))
        if action == "flip" and position < len(wire):
            wire[position] = draw(st.integers(0, 255))
        elif action == "insert":
            wire[position:position] = draw(st.binary(min_size=1, max_size=3))
        elif action == "delete":
            del wire[position : position + draw(st.integers(1, 3))]
        elif action == "truncate":
            del wire[position:]
        elif action == "append":
            wire += draw(st.binary(min_size=1, max_size=8))
    return bytes(wire)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_ever_raise_dns_wire_error(data: bytes) -> None:
    with contextlib.suppress(DnsWireError):
        decode_response(data)


# --- encoding ---------------------------------------------------------------------------------


@settings(max_examples=300)
@given(names, st.integers(0, 65535), st.sampled_from([1, 2, 5, 6, 12, 15, 16, 28, 255]), st.booleans())
def test_encoded_query_is_the_intended_question_for_dnspython(
    name: dns.name.Name, query_id: int, rdtype: int, final_dot: bool
) -> None:
    written = name.to_text(omit_final_dot=not final_dot)
    wire = encode_query(query_id, written, rdtype)
    parsed = dns.message.from_wire(wire)
    assert parsed.id == query_id
    assert parsed.flags == dns.flags.RD
    assert [(rrset.name.labels, rrset.rdtype, rrset.rdclass) for rrset in parsed.question] == [
        (name.labels, rdtype, IN)
    ]
    assert (parsed.answer, parsed.authority, parsed.additional, parsed.edns) == ([], [], [], -1)


@given(names)
def test_a_name_survives_encoding_and_decoding_exactly(name: dns.name.Name) -> None:
    written = text(name)
    response = bytearray(encode_query(7, written, 1))
    response[2] |= 0x80
    assert decode_response(bytes(response)).questions == (Question(written, 1),)


def test_query_without_recursion_desired() -> None:
    assert struct.unpack_from("!H", encode_query(1, "a.test", 1, recursion_desired=False), 2)[0] == 0
    assert struct.unpack_from("!H", encode_query(1, "a.test", 1), 2)[0] == FLAG_RD


def test_name_with_and_without_final_dot_encode_alike() -> None:
    assert encode_name("Mail.Example.") == encode_name("Mail.Example") == b"\x04Mail\x07Example\x00"
    assert encode_name(".") == encode_name("") == b"\x00"


def test_escapes_in_names_are_read_like_dnspython() -> None:
    assert encode_name(r"a\.b.c\065\\") == b"\x03a.b\x03cA\\\x00"


def test_non_ascii_names_go_as_utf8_bytes() -> None:
    assert encode_name("é.test") == b"\x02\xc3\xa9\x04test\x00"


@pytest.mark.parametrize(
    "name",
    ["a" * 64 + ".test", ".".join(["a" * 63] * 4), "a..test", ".test", "a.test..", "x\\", "x\\2y", "\\256"],
)
def test_impossible_names_raise_value_error(name: str) -> None:
    with pytest.raises(ValueError):
        encode_query(1, name, 1)


def test_longest_possible_name_encodes() -> None:
    name = ".".join(["a" * 63] * 3 + ["a" * 61])
    assert len(encode_name(name)) == 255


# --- decoding, by hand ------------------------------------------------------------------------

HEADER = struct.pack("!HHHHHH", 1, 0x8180, 1, 1, 0, 0)
QUESTION = b"\x01a\x04test\x00\x00\x01\x00\x01"


def test_name_compression_pointer_loop_is_a_wire_error() -> None:
    record = b"\xc0\x18" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x02"
    looping = HEADER + QUESTION + record
    assert looping[0x18:0x1A] == b"\xc0\x18"  # the owner name points at itself
    with pytest.raises(DnsWireError):
        decode_response(looping)


def test_pointers_that_loop_through_each_other_are_a_wire_error() -> None:
    # the question's name is "a" then a pointer to the record's owner, which points back to it
    question = b"\x01a\xc0\x12\x00\x01\x00\x01"
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x02"
    with pytest.raises(DnsWireError, match="backwards"):
        decode_response(HEADER + question + record)


def test_trailing_bytes_are_a_wire_error() -> None:
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x02"
    assert decode_response(HEADER + QUESTION + record).answer[0].data == "127.0.0.2"
    with pytest.raises(DnsWireError, match="after the last record"):
        decode_response(HEADER + QUESTION + record + b"\x00")


@pytest.mark.parametrize(
    ("rdtype", "rdata"),
    [(1, b"\x7f\x00\x00"), (28, b"\x00" * 15), (15, b"\x00\x01"), (5, b"\x01a\x00\x00"), (16, b"\x05abc")],
)
def test_rdata_of_the_wrong_length_is_a_wire_error(rdtype: int, rdata: bytes) -> None:
    record = b"\xc0\x0c" + struct.pack("!HHIH", rdtype, 1, 60, len(rdata)) + rdata
    with pytest.raises(DnsWireError):
        decode_response(HEADER + QUESTION + record)


def test_header_shorter_than_twelve_bytes_is_a_wire_error() -> None:
    with pytest.raises(DnsWireError, match="truncated"):
        decode_response(HEADER[:11])


def test_flags_rcode_and_truncation_are_read() -> None:
    header = struct.pack("!HHHHHH", 9, 0x8000 | FLAG_TC | SERVFAIL, 0, 0, 0, 0)
    message = decode_response(header)
    assert (message.id, message.rcode, message.truncated, message.question) == (9, SERVFAIL, True, None)


def test_names_keep_their_case_and_compare_without_it() -> None:
    wire = HEADER[:4] + b"\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x01A\x04TeSt\x00\x00\x01\x00\x01"
    assert decode_response(wire).questions[0].name == "A.TeSt"
    assert names_equal("A.TeSt", "a.test")


@pytest.mark.parametrize("name", ["caf\udce9.example", "caf\\\udce9.example"])
def test_name_with_bytes_that_were_not_utf8_goes_as_those_bytes(name: str) -> None:
    # a HELO name or sender domain with invalid UTF-8 arrives as surrogate escapes; Net::DNS sends the bytes
    assert encode_name(name) == b"\x04caf\xe9\x07example\x00"
