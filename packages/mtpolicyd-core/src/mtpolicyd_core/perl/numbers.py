"""Numbers as Perl writes and reads them, so scores print like the original."""

from __future__ import annotations

import math
import re

_PERL_NUMBER = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*(?:[eE][+-]?\d+)?)|(?:\.\d+(?:[eE][+-]?\d+)?)|inf(?:inity)?|nan[qs]?)\s*\Z",
    re.IGNORECASE | re.ASCII,
)
_NUMERIC_PREFIX = re.compile(
    r"\s*([+-]?)(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(inf)|(nan))",
    re.IGNORECASE | re.ASCII,
)


def looks_like_number(text: str) -> bool:
    """Whether Perl's ``looks_like_number`` accepts ``text``."""
    return bool(_PERL_NUMBER.match(text))


def perl_numify(value: object) -> float:
    """Perl's numeric value of a scalar: leading number of a string, else 0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if value is None:
        return 0.0
    match = _NUMERIC_PREFIX.match(str(value))
    if match is None:
        return 0.0
    sign, digits, infinity, _ = match.groups()
    if digits is not None:
        return float(sign + digits)
    if infinity is not None:
        return -math.inf if sign == "-" else math.inf
    return math.nan


def perl_str(value: object) -> str:
    """Perl's string form of a scalar; numbers print as with ``%.15g``."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        text = f"{value:.15g}"
        return "0" if text == "-0" else text
    if value is None:
        return ""
    return str(value)


class Num(float):
    """A number read from a config or session that keeps the text it came from.

    Perl keeps a scalar's string form, so a score configured as ``5.0`` shows
    as ``5.0`` in score details while the sum of scores prints as ``5``.
    """

    text: str

    def __new__(cls, text: str) -> Num:
        if not looks_like_number(text):
            raise ValueError(f"{text!r} is not a number")
        number = super().__new__(cls, perl_numify(text))
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text
