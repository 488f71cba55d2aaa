"""Perl regular expressions from config files, compiled as Python ``re`` patterns.

Admins write Perl syntax (``re_match``, ``regex``); the few constructs Python
spells differently are rewritten, the rest is passed through unchanged. Matching
is ASCII-only (``\\d``, ``\\w``, ``\\s``, case folding), as Perl does on the byte
strings the original reads from Postfix.
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

#: Perl escapes outside a character class with another spelling in Python.
_ESCAPES = {"z": r"\Z", "Z": r"(?=\n?\Z)", "h": r"[ \t]", "H": r"[^ \t]"}

_NAMED_BACKREF = re.compile(r"\\k(?:<(\w+)>|\{(\w+)\}|'(\w+)')")
_NUMBERED_BACKREF = re.compile(r"\\g\{?(\d+)\}?")


def translate(pattern: str) -> str:
    """The Python spelling of a Perl pattern (named groups, ``\\z``/``\\Z``, POSIX classes …)."""
    out: list[str] = []
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index = _translate_escape(pattern, index, in_class, out)
            continue
        if in_class:
            posix = re.match(r"\[:(\w+):\]", pattern[index:])
            if posix and posix.group(1) in _POSIX_CLASSES:
                out.append(_POSIX_CLASSES[posix.group(1)])
                index += posix.end()
                continue
            if char == "]":
                in_class = False
            out.append(char)
            index += 1
            continue
        if char == "[":
            in_class = True
            start = index + 1
            if pattern.startswith("^", start):
                start += 1
            if pattern.startswith("]", start):  # a leading ] is a literal
                start += 1
            out.append(pattern[index:start].replace("]", r"\]"))
            index = start
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


@lru_cache(maxsize=512)
def compile_perl_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Perl pattern; raises ``re.error`` for patterns Python cannot express."""
    return re.compile(translate(pattern), re.ASCII)


def perl_search(pattern: str, value: str) -> bool:
    """Whether ``value =~ m/pattern/`` matches."""
    return compile_perl_regex(pattern).search(value) is not None
