import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.perl.numbers import Num, looks_like_number, perl_numify, perl_str

# Expected strings printed by perl 5.36 for the same values.
PERL_PRINTS = [
    (0.1 + 0.2, "0.3"),
    (1 / 3, "0.333333333333333"),
    (1e15, "1e+15"),
    (1e16, "1e+16"),
    (2.0**60 + 0.5, "1.15292150460685e+18"),
    (2.5, "2.5"),
    (1e-5, "1e-05"),
    (0.0001, "0.0001"),
    (1e21, "1e+21"),
    (100.0, "100"),
    (7.5 - 2.5, "5"),
    (-1.5e-7, "-1.5e-07"),
    (-0.0, "0"),
    (math.inf, "Inf"),
    (-math.inf, "-Inf"),
    (math.nan, "NaN"),
    (12345678901234567, "12345678901234567"),
]


@pytest.mark.parametrize(("value", "text"), PERL_PRINTS)
def test_perl_str_prints_numbers_like_perl(value: float, text: str) -> None:
    assert perl_str(value) == text


def test_perl_str_of_other_scalars() -> None:
    assert perl_str(None) == ""
    assert perl_str(True) == "1"
    assert perl_str(False) == ""
    assert perl_str("5.0") == "5.0"
    assert perl_str(Num("5.0")) == "5.0"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_perl_str_keeps_fifteen_significant_digits(value: float) -> None:
    assert float(perl_str(value)) == float(f"{value:.15g}")


# Verdicts of Scalar::Util::looks_like_number in perl 5.36.
LOOKS_LIKE_NUMBER = {
    " 5 ": True,
    "5\n": True,
    "1.": True,
    "+.5": True,
    "Infinity": True,
    "infinit": False,
    "- 5": False,
    "1e5": True,
    "1E+05": True,
    " ": False,
    "": False,
    "0x10": False,
    "nan": True,
    "NaN": True,
    "-inf": True,
    "1_000": False,
    "+": False,
    "5.e3": True,
    ".e3": False,
    "\t7\t": True,
    "1e": False,
    "infx": False,
    "nanq": True,
}


@pytest.mark.parametrize(("text", "verdict"), LOOKS_LIKE_NUMBER.items())
def test_looks_like_number_agrees_with_perl(text: str, verdict: bool) -> None:
    assert looks_like_number(text) is verdict


@given(st.floats(allow_nan=False))
def test_looks_like_number_accepts_printed_floats(value: float) -> None:
    assert looks_like_number(perl_str(value))
    assert perl_numify(perl_str(value)) == float(perl_str(value))


@given(st.text())
def test_numify_is_total_and_agrees_with_looks_like_number(text: str) -> None:
    number = perl_numify(text)
    if looks_like_number(text) and "nan" not in text.lower():
        assert number == float(text.strip())


# Numeric values perl 5.36 gives these strings (0 + $string).
NUMIFY = [
    (" 12abc", 12.0),
    ("0x1A", 0.0),
    ("inf", math.inf),
    ("\n5", 5.0),
    ("1_000", 1.0),
    (".5e1x", 5.0),
    ("Infinity", math.inf),
    ("-inf", -math.inf),
    ("+.5", 0.5),
    ("1e", 1.0),
    ("1e+", 1.0),
    ("abc", 0.0),
    ("", 0.0),
    (None, 0.0),
    (3, 3.0),
]


@pytest.mark.parametrize(("value", "number"), NUMIFY)
def test_perl_numify_takes_the_leading_number(value: str | int | None, number: float) -> None:
    assert perl_numify(value) == number


def test_perl_numify_nan() -> None:
    assert math.isnan(perl_numify("nanx"))


def test_num_keeps_its_text_and_value() -> None:
    number = Num("5.0")
    assert number == 5.0
    assert str(number) == "5.0"
    assert perl_str(number + 0) == "5"
    with pytest.raises(ValueError):
        Num("five")
