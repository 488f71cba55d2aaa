"""Perl regular expressions, differential: negated POSIX classes and byte-wise matching of UTF-8
values answer as in the Perl original (Condition ``re_match``, RegexList ``regex``)."""

from __future__ import annotations

from integration.fixtures.plugin import DaemonFactory
from integration.test_differential_control import Exchange, assert_same_answers, attrs

CONFIG = """
<VirtualHost {port}>
  name = regex
  <Plugin one-byte-dot>
    module = "Condition"
    key = "sender"
    re_match = "^h.llo@"
    action = "reject one byte"
  </Plugin>
  <Plugin two-byte-dot>
    module = "Condition"
    key = "sender"
    re_match = "^h..llo@"
    action = "reject two bytes"
  </Plugin>
  <Plugin no-digit>
    module = "RegexList"
    key = "helo_name"
    regex = "^[[:^digit:]]+$"
    action = "reject no digit in helo"
  </Plugin>
  <Plugin digit-or-not-alpha>
    module = "Condition"
    key = "client_name"
    re_match = "^[^x[:^alnum:]]+$"
    action = "reject alnum but no x"
  </Plugin>
</VirtualHost>
"""


def test_regex_answers_like_the_original_on_utf8_and_negated_posix_classes(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    exchanges: list[Exchange] = [
        (1, attrs(sender="héllo@example.org", helo_name="mx1"), ["action=reject two bytes"]),
        (1, attrs(sender="hallo@example.org", helo_name="mx1"), ["action=reject one byte"]),
        (1, attrs(sender="a@example.org", helo_name="mx"), ["action=reject no digit in helo"]),
        (
            1,
            attrs(sender="a@example.org", helo_name="mx1", client_name="mail1"),
            ["action=reject alnum but no x"],
        ),
        (1, attrs(sender="a@example.org", helo_name="mx1", client_name="mx1"), ["action=dunno"]),
        (1, attrs(sender="a@example.org", helo_name="mx1", client_name="mail-1"), ["action=dunno"]),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, CONFIG, exchanges)
