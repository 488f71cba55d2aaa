import re

import pytest
from mtpolicyd_core.perl.regex import compile_perl_regex, perl_search, translate


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"foo\z", "foo\n", False),
        (r"foo\Z", "foo\n", True),
        (r"foo$", "foo\n", True),
        (r"^[[:alpha:]]+$", "abcXYZ", True),
        (r"^[[:digit:][:space:]]+$", "1 2", True),
        (r"^[^[:digit:]]+$", "a1", False),
        (r"(?<first>a)\k<first>", "aa", True),
        (r"(a)\g1", "aa", True),
        (r"(a)\g{1}", "aa", True),
        (r"a\hb", "a\tb", True),
        (r"(?<=x)y", "xy", True),
        (r"(?<!x)y", "xy", False),
        (r"[]a]", "]", True),
        (r"\d", "\u0663", False),
        (r"(?i)ABC", "abc", True),
        (r"\.google\.com$", "mail.google.com", True),
    ],
)
def test_perl_patterns_match_as_in_perl(pattern: str, value: str, matches: bool) -> None:
    assert perl_search(pattern, value) is matches


def test_translate_leaves_common_syntax_alone() -> None:
    assert translate(r"^mail-[a-z][a-z]0-f[0-9]*\.google\.com$") == r"^mail-[a-z][a-z]0-f[0-9]*\.google\.com$"


def test_invalid_pattern_raises_re_error() -> None:
    with pytest.raises(re.error):
        compile_perl_regex("(unclosed")


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("^[[:^digit:]]+$", "abc", True),
        ("^[[:^digit:]]+$", "ab1", False),
        ("^[x[:^alpha:]]+$", "x1-", True),
        ("^[x[:^alpha:]]+$", "xy", False),
        ("^[^1[:^digit:]]+$", "023", True),
        ("^[^1[:^digit:]]+$", "013", False),
        ("^[^1[:^digit:]]+$", "0a3", False),
        ("^[[:^space:][:^alpha:]]$", "a", True),  # not space, or not alpha: every character but none
    ],
)
def test_negated_posix_classes_inside_brackets(pattern: str, value: str, matches: bool) -> None:
    assert perl_search(pattern, value) is matches


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [("^h.llo$", False), ("^h..llo$", True), ("^h\\w+llo$", False), ("^h.{2}llo$", True), ("^héllo$", True)],
)
def test_matching_is_on_bytes_as_perl_matches_the_utf8_it_reads(pattern: str, matches: bool) -> None:
    assert perl_search(pattern, "héllo") is matches
