"""Perl regular expressions from config files, compiled as Python ``re`` patterns.

Admins write Perl syntax (``re_match``, ``regex``); the few constructs Python
spells differently are rewritten, the rest is passed through unchanged. Patterns
and values are matched as bytes, as Perl matches the undecoded byte strings the
original reads from Postfix and from its config: ``.`` is one byte, and ``\\d``,
``\\w``, ``\\s`` and case folding are ASCII-only.
"""

from __future__ import annotations

import re
from functools import lru_cache

_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}

_POSIX = re.compile(r"\[:(\^?)(\w+):\]")

#: Perl escapes outside a character class with another spelling in Python.
_ESCAPES = {"z": r"\Z", "Z": r"(?=\n?\Z)", "h": r"[ \t]", "H": r"[^ \t]"}

_NAMED_BACKREF = re.compile(r"\\k(?:<(\w+)>|\{(\w+)\}|'(\w+)')")
_NUMBERED_BACKREF = re.compile(r"\\g\{?(\d+)\}?")


def translate(pattern: str) -> str:
    """The Python spelling of a Perl pattern (named groups, ``\\z``/``\\Z``, POSIX classes …)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index = _translate_escape(pattern, index, False, out)
            continue
        if char == "[":
            index = _translate_class(pattern, index, out)
            continue
        if pattern.startswith("(?<", index) and not pattern.startswith(("(?<=", "(?<!"), index):
            out.append("(?P<")
            index += 3
            continue
        named = re.match(r"\(\?'(\w+)'", pattern[index:])
        if named:
            out.append(f"(?P<{named.group(1)}>")
            index += named.end()
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _translate_class(pattern: str, index: int, out: list[str]) -> int:
    """Append the bracketed class at ``index``; return the index after its ``]``.

    Python cannot negate a POSIX class inside brackets (``[a[:^digit:]]``), so a class holding
    one becomes a group: any of the plain items or outside a negated class (for ``[^…]``: none
    of the plain items and inside every negated class).
    """
    start = index + 1
    negated = pattern.startswith("^", start)
    start += negated
    body: list[str] = []
    if pattern.startswith("]", start):  # a leading ] is a literal
        body.append(r"\]")
        start += 1
    inverted: list[str] = []
    index = start
    while index < len(pattern) and pattern[index] != "]":
        if pattern[index] == "\\" and index + 1 < len(pattern):
            index = _translate_escape(pattern, index, True, body)
            continue
        posix = _POSIX.match(pattern, index)
        if posix and posix.group(2) in _POSIX_CLASSES:
            (inverted if posix.group(1) else body).append(_POSIX_CLASSES[posix.group(2)])
            index = posix.end()
            continue
        body.append(pattern[index])
        index += 1
    plain = "".join(body)
    if not inverted:
        out.append(f"[{'^' if negated else ''}{plain}]")
    elif not negated:
        out.append(
            "(?:" + "|".join(([f"[{plain}]"] if plain else []) + [f"[^{item}]" for item in inverted]) + ")"
        )
    else:
        lookaheads = ([f"(?![{plain}])"] if plain else []) + [f"(?=[{item}])" for item in inverted[:-1]]
        out.append("(?:" + "".join(lookaheads) + f"[{inverted[-1]}])")
    return index + 1


def _translate_escape(pattern: str, index: int, in_class: bool, out: list[str]) -> int:
    """Append the translation of the escape at ``index``; return the index after it."""
    rest = pattern[index:]
    if not in_class:
        named = _NAMED_BACKREF.match(rest)
        if named:
            out.append(f"(?P={next(group for group in named.groups() if group)})")
            return index + named.end()
        numbered = _NUMBERED_BACKREF.match(rest)
        if numbered:
            out.append(f"\\{numbered.group(1)}")
            return index + numbered.end()
        replacement = _ESCAPES.get(pattern[index + 1])
        if replacement is not None:
            out.append(replacement)
            return index + 2
    elif pattern[index + 1] == "h":
        out.append(r" \t")
        return index + 2
    out.append(pattern[index : index + 2])
    return index + 2


def perl_bytes(text: str) -> bytes:
    """Text as the original matches it: the bytes Postfix sent (UTF-8; undecodable bytes kept)."""
    return text.encode("utf-8", "surrogateescape")


def compile_perl_regex(pattern: str) -> re.Pattern[bytes]:
    """Compile a Perl pattern for matching bytes, as Perl matches the byte strings the original reads
    (``.`` is one byte of a two-byte UTF-8 letter); raises ``re.error`` where Python cannot express it."""
    return re.compile(perl_bytes(translate(pattern)))


_compiled = lru_cache(maxsize=512)(compile_perl_regex)


def perl_search(pattern: str, value: str) -> bool:
    """Whether ``value =~ m/pattern/`` matches (on the value's bytes); patterns are compiled once each."""
    return _compiled(pattern).search(perl_bytes(value)) is not None
