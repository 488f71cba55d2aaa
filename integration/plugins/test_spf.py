"""SPF against SPF records served by a real rbldnsd, differential: the Perl original (Debian 2.05,
Mail::SPF) and our daemon get the same config, DNS data and requests and must answer the same.
Each test first checks the Perl daemon's answers against the ones written here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.rbldnsd import RbldnsdServer

RECORDS = """
fail  TXT "v=spf1 ip4:192.0.2.0/24 -all"
soft  TXT "v=spf1 ~all"
pass  TXT "v=spf1 ip4:192.168.1.0/24 -all"
redir TXT "v=spf1 redirect=fail.spf.test"
incl  TXT "v=spf1 -include:pass.spf.test ~all"
perm  TXT "v=spf1 moo -all"
multi TXT "v=spf1 -all"
multi TXT "v=spf1 +all"
amech TXT "v=spf1 -a:host.spf.test/24 ?all"
host  A 192.168.1.5
badip TXT "v=spf1 ip4:300.1.1.1 -all"
noinc TXT "v=spf1 include:nothing.spf.test -all"
noredir TXT "v=spf1 redirect=nothing.spf.test"
loop TXT "v=spf1 include:loop.spf.test -all"
badmacro TXT "v=spf1 exists:%{z}.spf.test -all"
outside TXT "v=spf1 include:other.example -all"
emptyredir TXT "v=spf1 redirect="
badcidr TXT "v=spf1 ip4:192.0.2.0/33 -all"
dupmod TXT "v=spf1 redirect=a.spf.test redirect=b.spf.test"
"""

CONFIG = """
min_servers = 1
min_spare_servers = 1
max_spare_servers = 2
max_servers = 3
<VirtualHost {port}>
  name = spf
  <Plugin spf>
    module = "SPF"
    pass_mode = "dunno"
    softfail_mode = "reject"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = spf-passive
  <Plugin spf>
    module = "SPF"
    check_helo = "off"
    fail_mode = "passive"
    fail_score = "5"
    permerror_mode = "passive"
    permerror_score = "3"
  </Plugin>
  <Plugin score>
    module = "ScoreAction"
    threshold = "1"
    action = "reject score %SCORE%%SCORE_DETAIL%"
  </Plugin>
</VirtualHost>
"""


def attrs(sender: str, helo: str = "mx.pass.spf.test", ip: str = "192.168.1.1") -> dict[str, str]:
    """A RCPT request of a new mail."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "instance": uuid.uuid4().hex[:12],
        "sender": sender,
        "helo_name": helo,
        "client_address": ip,
    }


NOT_BY_DEFAULT = "Sender is not authorized by default to use"
EXCHANGES: Sequence[tuple[int, Mapping[str, str], list[str]]] = [
    (1, attrs("a@pass.spf.test"), ["action=dunno"]),
    (
        1,
        attrs("a@fail.spf.test"),
        [
            f"action=reject SPF validation failed: fail.spf.test: {NOT_BY_DEFAULT} 'a@fail.spf.test' "
            "in 'mfrom' identity (mechanism '-all' matched)"
        ],
    ),
    (
        1,
        attrs("a@soft.spf.test"),
        [
            f"action=reject SPF validation failed: soft.spf.test: {NOT_BY_DEFAULT} 'a@soft.spf.test' "
            "in 'mfrom' identity, however domain is not currently prepared for false failures "
            "(mechanism '~all' matched)"
        ],
    ),
    (
        1,
        attrs("a@redir.spf.test"),
        [
            f"action=reject SPF validation failed: redir.spf.test ... fail.spf.test: {NOT_BY_DEFAULT} "
            "'a@redir.spf.test' in 'mfrom' identity (mechanism '-all' matched)"
        ],
    ),
    (
        1,
        attrs("a@incl.spf.test"),
        [
            "action=reject SPF validation failed: incl.spf.test: Sender is not authorized to use "
            "'a@incl.spf.test' in 'mfrom' identity (mechanism '-include:pass.spf.test' matched)"
        ],
    ),
    (
        1,
        attrs("a@amech.spf.test"),
        [
            "action=reject SPF validation failed: amech.spf.test: 192.168.1.1 is not authorized to use "
            "'a@amech.spf.test' in 'mfrom' identity (mechanism '-a:host.spf.test/24' matched)"
        ],
    ),
    (
        1,
        attrs("a@perm.spf.test"),
        [
            "action=reject spf mfrom check failed: perm.spf.test: "
            "Unknown mechanism type 'moo' in 'v=spf1' record"
        ],
    ),
    (
        1,
        attrs("a@pass.spf.test", helo="fail.spf.test"),
        [
            f"action=reject SPF validation failed: fail.spf.test: {NOT_BY_DEFAULT} 'fail.spf.test' in 'helo' "
            "identity (mechanism '-all' matched)"
        ],
    ),
    (1, attrs("", helo="pass.spf.test"), ["action=dunno"]),
    (1, attrs("a@fail.spf.test", ip="127.0.0.1"), ["action=dunno"]),
    (1, attrs("a@none.spf.test"), ["action=dunno"]),
    *(
        (1, attrs(f"a@{name}"), [f"action={action} spf mfrom check failed: {name}{where}: {text}"])
        for name, where, action, text in (
            ("badip.spf.test", "", "reject", "Missing required IPv4 address in 'ip4:300.1.1.1'"),
            (
                "noinc.spf.test",
                "",
                "reject",
                "Included domain 'nothing.spf.test' has no applicable sender policy",
            ),
            (
                "noredir.spf.test",
                "",
                "reject",
                "Redirect domain 'nothing.spf.test' has no applicable sender policy",
            ),
            (
                "loop.spf.test",
                " ... loop.spf.test",
                "reject",
                "Maximum DNS-interactive terms limit (10) exceeded",
            ),
            (
                "badmacro.spf.test",
                "",
                "reject",
                "Unknown macro character 'z' at pos 0 in macro string '%{z}.spf.test'",
            ),
            (
                "outside.spf.test",
                " ... other.example",
                "defer",
                "'REFUSED' error on DNS 'TXT' lookup of 'other.example'",
            ),
            ("x.example", "", "defer", "'REFUSED' error on DNS 'TXT' lookup of 'x.example'"),
            ("emptyredir.spf.test", "", "reject", "Missing required domain-spec in 'redirect='"),
            (
                "badcidr.spf.test",
                "",
                "reject",
                "Invalid IPv4 prefix length encountered in 'ip4:192.0.2.0/33'",
            ),
            ("dupmod.spf.test", "", "reject", "Duplicate global modifier 'redirect' encountered"),
        )
    ),
    (2, attrs("a@fail.spf.test"), ["action=reject score 5, spf=5"]),
    (2, attrs("a@multi.spf.test"), ["action=reject score 3, spf=3"]),
]


def converse(daemon: Any, exchanges: Sequence[tuple[int, Mapping[str, str], list[str]]]) -> list[list[str]]:
    """Each request on a connection of its own."""
    return [daemon.request(attributes, port=daemon.ports[port - 1]) for port, attributes, _ in exchanges]


def test_spf_answers_as_the_original(
    rbldnsd_server: Callable[..., RbldnsdServer],
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
) -> None:
    dns = rbldnsd_server({"spf.test": ("generic", RECORDS)})
    perl = perl_mtpolicyd(CONFIG, env=dns.env)
    perl_answers = converse(perl, EXCHANGES)
    assert perl_answers == [expected for _, _, expected in EXCHANGES]
    perl.stop()
    python = python_mtpolicyd(CONFIG, env=dns.env)
    assert converse(python, EXCHANGES) == perl_answers
