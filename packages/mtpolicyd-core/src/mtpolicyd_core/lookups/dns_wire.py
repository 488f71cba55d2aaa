"""DNS wire format, sans I/O: encode one query, decode a response (RFC 1035) strictly.

Names are text in presentation form (dnspython's and Net::DNS's escaping: ``\\.``, ``\\DDD``),
case preserved, without the final dot; the root is ``"."``. Any malformed response raises
``DnsWireError`` and nothing else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from itertools import chain
from typing import NamedTuple

#: record types decoded into values; others keep their raw rdata
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA = 1, 2, 5, 6, 12, 15, 16, 28
#: response codes
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
CLASS_IN = 1
#: header flag bits
FLAG_QR, FLAG_AA, FLAG_TC, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080

RCODE_NAMES = {
    NOERROR: "NOERROR",
    FORMERR: "FORMERR",
    SERVFAIL: "SERVFAIL",
    NXDOMAIN: "NXDOMAIN",
    NOTIMP: "NOTIMP",
    REFUSED: "REFUSED",
}
TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", MX: "MX", TXT: "TXT", AAAA: "AAAA"}

MAX_NAME_LENGTH = 255
MAX_LABEL_LENGTH = 63

_HEADER = struct.Struct("!HHHHHH")
_RECORD = struct.Struct("!HHIH")
_QUESTION_TAIL = struct.Struct("!HH")
_MX_PREFERENCE = struct.Struct("!H")
_SOA_TIMERS = struct.Struct("!IIIII")
#: the length byte before a label, by its length (a longer label has none: IndexError)
_LENGTH_PREFIX = tuple(bytes((length,)) for length in range(MAX_LABEL_LENGTH + 1))
#: bytes a label shows escaped (dnspython's and Net::DNS's set), besides the unprintable ones
_ESCAPED = frozenset(b'"().;\\@$')
#: bytes a label shows as they are, and the dot between labels (a dot inside one is found by counting)
_PLAIN = bytes(byte for byte in range(0x21, 0x7F) if byte not in _ESCAPED) + b"."
_ESCAPE_IN_TEXT = re.compile(r"\\(?:([0-9]{3})|([^0-9]))", re.DOTALL)


class DnsWireError(ValueError):
    """A DNS message is malformed: truncated, a bad length, a compression loop, trailing bytes."""


class MxData(NamedTuple):
    """An MX record's value."""

    preference: int
    exchange: str


class SoaData(NamedTuple):
    """An SOA record's value."""

    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


#: A/AAAA/NS/CNAME/PTR: text; TXT: the character-strings; MX, SOA; other types: raw rdata
RecordData = str | tuple[bytes, ...] | MxData | SoaData | bytes


class Question(NamedTuple):
    """The question section's entry."""

    name: str
    rdtype: int
    rdclass: int = CLASS_IN


class ResourceRecord(NamedTuple):
    """One record of a response; ``data`` decoded by type (see ``RecordData``). A TTL with the top
    bit set reads as 0 (RFC 2181)."""

    name: str
    rdtype: int
    rdclass: int
    ttl: int
    data: RecordData


class DnsMessage(NamedTuple):
    """A decoded response: header, question and the three record sections."""

    id: int
    flags: int
    questions: tuple[Question, ...]
    answer: tuple[ResourceRecord, ...]
    authority: tuple[ResourceRecord, ...]
    additional: tuple[ResourceRecord, ...]

    @property
    def rcode(self) -> int:
        """The response code (no EDNS, so the header's four bits)."""
        return self.flags & 0x000F

    @property
    def truncated(self) -> bool:
        """TC: the answer did not fit; ask again over TCP."""
        return bool(self.flags & FLAG_TC)

    @property
    def question(self) -> Question | None:
        """The (first) question, if the response repeats one."""
        return self.questions[0] if self.questions else None


def type_text(rdtype: int) -> str:
    """``A``, ``TXT`` … or ``TYPE65`` (RFC 3597) for types without a name here."""
    return TYPE_NAMES.get(rdtype) or f"TYPE{rdtype}"


def names_equal(first: str, second: str) -> bool:
    """Names compare case-insensitively (ASCII only, as DNS does)."""
    return first.lower() == second.lower()


# --- encoding -------------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    """A text name (with or without the final dot) in wire form; ValueError if it cannot be one.
    Characters beyond ASCII go as their UTF-8 bytes (no IDNA), as Net::DNS does without libidn."""
    if name in ("", "."):
        return b"\x00"
    if "\\" in name:
        labels = _split_escaped(name)
    else:
        labels = (name[:-1] if name.endswith(".") else name).encode("utf-8", "surrogateescape").split(b".")
    if not all(labels):
        raise ValueError(f"empty label in DNS name {name!r}")
    try:  # each label after its length byte, interleaved without a Python loop
        prefixes = map(_LENGTH_PREFIX.__getitem__, map(len, labels))
        wire = b"".join(chain.from_iterable(zip(prefixes, labels, strict=True))) + b"\x00"
    except IndexError:
        raise ValueError(f"label longer than {MAX_LABEL_LENGTH} bytes in DNS name {name!r}") from None
    if len(wire) > MAX_NAME_LENGTH:
        raise ValueError(f"DNS name longer than {MAX_NAME_LENGTH} bytes: {name!r}")
    return wire


def _split_escaped(name: str) -> list[bytes]:
    """Labels of a name written with ``\\X`` and ``\\DDD`` escapes."""
    labels: list[bytes] = []
    label = bytearray()
    position = 0
    while position < len(name):
        char = name[position]
        if char == ".":
            labels.append(bytes(label))
            label = bytearray()
            position += 1
            continue
        if char != "\\":
            label += char.encode("utf-8", "surrogateescape")
            position += 1
            continue
        escape = _ESCAPE_IN_TEXT.match(name, position)
        if escape is None:
            raise ValueError(f"bad escape (a backslash needs a character or three digits) in {name!r}")
        digits, single = escape.groups()
        if digits is not None:
            if int(digits) > 255:
                raise ValueError(f"escape \\{digits} out of range in DNS name {name!r}")
            label.append(int(digits))
        else:
            label += single.encode("utf-8", "surrogateescape")
        position = escape.end()
    if label:
        labels.append(bytes(label))
    return labels


def encode_query(query_id: int, name: str, rdtype: int, recursion_desired: bool = True) -> bytes:
    """A standard query (class IN, no EDNS, like Net::DNS's default) for ``name``/``rdtype``."""
    flags = FLAG_RD if recursion_desired else 0
    return (
        _HEADER.pack(query_id, flags, 1, 0, 0, 0) + encode_name(name) + _QUESTION_TAIL.pack(rdtype, CLASS_IN)
    )


# --- decoding -------------------------------------------------------------------------------


def decode_response(data: bytes) -> DnsMessage:
    """The message in ``data``; DnsWireError if anything about it is malformed."""
    try:
        return _decode(data)
    except (IndexError, struct.error) as error:  # read past the end: a truncated message
        raise DnsWireError(f"message truncated ({len(data)} bytes)") from error


#: offset in the message where a name was read → (its text, its length in wire form)
_Names = dict[int, tuple[str, int]]


def _decode(data: bytes) -> DnsMessage:
    """The decoder proper; reading past the end raises IndexError or struct.error."""
    query_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    names: _Names = {}
    position = 12
    questions = []
    for _ in range(qdcount):
        name, position = _read_name(data, position, names)
        rdtype, rdclass = _QUESTION_TAIL.unpack_from(data, position)
        position += 4
        questions.append(Question(name, rdtype, rdclass))
    sections: list[tuple[ResourceRecord, ...]] = []
    size = len(data)
    for count in (ancount, nscount, arcount):
        if not count:
            sections.append(())
            continue
        records = []
        for _ in range(count):
            name, position = _read_name(data, position, names)
            rdtype, rdclass, ttl, rdlength = _RECORD.unpack_from(data, position)
            start = position + 10
            position = start + rdlength
            if position > size:
                raise DnsWireError(f"record {name} {type_text(rdtype)}: rdata runs past the message")
            if rdclass != CLASS_IN:
                value: RecordData = data[start:position]
            elif rdtype == A:
                if rdlength != 4:
                    raise DnsWireError(f"record {name} A: rdata of {rdlength} bytes")
                value = socket.inet_ntoa(data[start:position])
            else:
                value = _rdata(data, rdtype, start, position, names)
            if ttl & 0x80000000:
                ttl = 0  # RFC 2181 section 8
            records.append(ResourceRecord(name, rdtype, rdclass, ttl, value))
        sections.append(tuple(records))
    if position != size:
        raise DnsWireError(f"{size - position} bytes after the last record")
    return DnsMessage(query_id, flags, tuple(questions), *sections)


def _rdata(data: bytes, rdtype: int, start: int, end: int, names: _Names) -> RecordData:
    """The value of a class IN record other than A, which must fill ``data[start:end]`` exactly."""
    if rdtype == TXT:
        strings = []
        position = start
        while position < end:
            stop = position + 1 + data[position]
            if stop > end:
                raise DnsWireError("TXT character-string runs past its record")
            strings.append(data[position + 1 : stop])
            position = stop
        return tuple(strings)
    if rdtype == AAAA:
        if end - start != 16:
            raise DnsWireError(f"AAAA rdata of {end - start} bytes")
        return str(ipaddress.IPv6Address(data[start:end]))
    value: RecordData
    if rdtype in (CNAME, PTR, NS):
        value, position = _read_name(data, start, names)
    elif rdtype == MX:
        exchange, position = _read_name(data, start + 2, names)
        value = MxData(_MX_PREFERENCE.unpack_from(data, start)[0], exchange)
    elif rdtype == SOA:
        mname, position = _read_name(data, start, names)
        rname, position = _read_name(data, position, names)
        value = SoaData(mname, rname, *_SOA_TIMERS.unpack_from(data, position))
        position += 20
    else:
        return data[start:end]
    if position != end:
        raise DnsWireError(f"{type_text(rdtype)} rdata of {end - start} bytes does not hold one value")
    return value


def _read_name(data: bytes, position: int, names: _Names) -> tuple[str, int]:
    """The possibly compressed name at ``position`` and the position after it. Each pointer must
    point before the name being read and before the previous pointer's target (dnspython's
    rule), so pointer loops are impossible."""
    length = data[position]
    if length >= 0xC0:  # the usual owner name: a pointer to a name already read
        known = names.get((length & 0x3F) << 8 | data[position + 1])
        if known is not None:
            return known[0], position + 2
    origin = start = segment = position
    labels: list[bytes] = []
    wire_length = 1
    suffix: str | None = None
    resume = -1
    while True:
        length = data[position]
        if length < 64:
            if not length:
                wire_length += position - segment
                position += 1
                break
            stop = position + 1 + length
            labels.append(data[position + 1 : stop])
            position = stop  # past the end: the next data[position] raises IndexError
            continue
        if length < 0xC0:
            raise DnsWireError(f"unknown label type 0x{length:02x}")
        target = (length & 0x3F) << 8 | data[position + 1]
        wire_length += position - segment
        if wire_length > MAX_NAME_LENGTH:
            raise DnsWireError(f"name longer than {MAX_NAME_LENGTH} bytes")
        if resume < 0:
            resume = position + 2
        if target >= start:
            raise DnsWireError(f"compression pointer to {target} does not point backwards")
        known = names.get(target)
        if known is not None:
            suffix, suffix_length = known
            wire_length += suffix_length - 1
            break
        start = segment = position = target
    if wire_length > MAX_NAME_LENGTH:  # (the walk is bounded by the message's size meanwhile)
        raise DnsWireError(f"name of {wire_length} bytes is longer than {MAX_NAME_LENGTH}")
    if suffix is None or suffix == ".":
        text = _labels_text(labels)
    elif labels:
        text = f"{_labels_text(labels)}.{suffix}"
    else:
        text = suffix
    names[origin] = (text, wire_length)
    return text, resume if resume >= 0 else position


def _labels_text(labels: list[bytes]) -> str:
    """Labels in presentation form; ``"."`` for none (the root)."""
    if not labels:
        return "."
    joined = b".".join(labels)
    if not joined.translate(None, _PLAIN) and joined.count(b".") == len(labels) - 1:
        return joined.decode("ascii")
    return ".".join(_escaped_label(label) for label in labels)


def _escaped_label(label: bytes) -> str:
    return "".join(
        ("\\" + chr(byte)) if byte in _ESCAPED else chr(byte) if 0x20 < byte < 0x7F else f"\\{byte:03d}"
        for byte in label
    )
