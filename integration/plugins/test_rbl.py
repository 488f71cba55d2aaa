"""RBL, RBLAction and DBL against a real rbldnsd, differential: the Perl original (Debian 2.05) and
our daemon get the same config, DNS data and requests and must answer the same, byte for byte.
Each test first checks the Perl daemon's answers against the ones written here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.rbldnsd import RbldnsdServer

SERVER = """
min_servers = 1
min_spare_servers = 1
max_spare_servers = 2
max_servers = 3
<Connection memcached>
  module = "Memcached"
  servers = "{memcached}"
  namespace = "{namespace}"
</Connection>
<SessionCache>
  module = "Memcached"
  memcached = "memcached"
</SessionCache>
"""

ZONES = {
    "zen.test": ":127.0.0.2:Listed in SBL, see https://zen.test/query/ip/$\n"
    "192.0.2.2\n"
    "192.0.2.4 :127.0.0.4:https://zen.test/query/ip/$\n"
    "192.0.2.10 :127.0.0.10:\n",
    "dbl.test": ("dnset", ":127.0.1.2:https://dbl.test/query/domain/$\nspam.example\n.wild.example\n"),
}

CONFIG = """
<VirtualHost {port}>
  name = rbl
  <Plugin zen>
    module = "RBL"
    domain = "zen.test"
    mode = "passive"
    score = "1.5"
  </Plugin>
  <Plugin zen-sbl>
    module = "RBLAction"
    result_from = "zen"
    re_match = "^127\\.0\\.0\\.[23]$"
    score = "5"
    reject_message = "SBL %IP% %INFO%"
  </Plugin>
  <Plugin zen-xbl>
    module = "RBLAction"
    result_from = "zen"
    re_match = "^127\\.0\\.0\\.[4-7]$"
    mode = "accept"
  </Plugin>
  <Plugin dbl>
    module = "DBL"
    domain = "dbl.test"
  </Plugin>
  <Plugin score>
    module = "ScoreAction"
    threshold = "1"
    action = "reject score %SCORE%%SCORE_DETAIL%"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = rbl-reject
  <Plugin zen>
    module = "RBL"
    domain = "zen.test"
    uc_mode = "rbl_mode"
  </Plugin>
</VirtualHost>
"""


def attrs(**attributes: str) -> dict[str, str]:
    """A RCPT request of a new mail, with the given attributes added or replaced."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "instance": uuid.uuid4().hex[:12],
        "sender": "sender@good.example",
        "helo_name": "mx.good.example",
        "reverse_client_name": "mx.good.example",
        "client_address": "192.0.2.1",
        **attributes,
    }


SBL = "Listed in SBL, see https://zen.test/query/ip/192.0.2.2"
EXCHANGES: Sequence[tuple[int, Mapping[str, str], list[str]]] = [
    (1, attrs(), ["action=dunno"]),
    (1, attrs(client_address="192.0.2.2"), [f'action=reject SBL 192.0.2.2 ("{SBL}")']),
    (1, attrs(client_address="192.0.2.4"), ["action=dunno"]),
    (1, attrs(client_address="192.0.2.10"), ["action=reject score 1.5, zen=1.5"]),
    (1, attrs(client_address="2001:db8::2"), ["action=dunno"]),
    (
        1,
        attrs(sender="x@spam.example"),
        ["action=reject sender rejected (spam.example, https://dbl.test/query/domain/spam.example)"],
    ),
    (
        1,
        attrs(reverse_client_name="mail.wild.example"),
        [
            "action=reject reverse_client_name rejected (mail.wild.example, https://dbl.test/query/domain/wild.example)"
        ],
    ),
    (1, attrs(helo_name="spam.example"), ["action=reject score 1, dbl-helo_name=1"]),
    (1, attrs(helo_name="[192.0.2.1]", reverse_client_name="unknown", sender=""), ["action=dunno"]),
    (
        2,
        attrs(client_address="192.0.2.4"),
        ["action=reject delivery from 192.0.2.4 rejected (https://zen.test/query/ip/192.0.2.4)"],
    ),
    (2, attrs(client_address="192.0.2.10"), ["action=reject delivery from 192.0.2.10 rejected "]),
    (2, attrs(client_address="192.0.2.3"), ["action=dunno"]),
]


def converse(daemon: Any, exchanges: Sequence[tuple[int, Mapping[str, str], list[str]]]) -> list[list[str]]:
    """Each request on a connection of its own."""
    return [daemon.request(attributes, port=daemon.ports[port - 1]) for port, attributes, _ in exchanges]


def test_rbl_rblaction_dbl_answer_as_the_original(
    rbldnsd_server: Callable[..., RbldnsdServer],
    memcached_server: MemcachedServer,
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
) -> None:
    dns = rbldnsd_server(ZONES)
    run = uuid.uuid4().hex[:8]
    perl = perl_mtpolicyd(
        SERVER + CONFIG, env=dns.env, memcached=memcached_server.address, namespace=f"perl-{run}-"
    )
    perl_answers = converse(perl, EXCHANGES)
    assert perl_answers == [expected for _, _, expected in EXCHANGES]
    perl.stop()
    python = python_mtpolicyd(
        SERVER + CONFIG, env=dns.env, memcached=memcached_server.address, namespace=f"python-{run}-"
    )
    assert converse(python, EXCHANGES) == perl_answers
