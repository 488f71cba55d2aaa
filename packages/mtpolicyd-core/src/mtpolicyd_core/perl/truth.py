"""Perl's truth of a scalar, which the original's flags, look-ups and config parser all rely on."""

from __future__ import annotations

from mtpolicyd_core.perl.numbers import perl_str


def perl_true(value: object) -> bool:
    """False for undef, the empty string and ``"0"`` (so also the number 0); true otherwise."""
    return value is not None and perl_str(value) not in ("", "0")
