"""Control plugins, differential: the Perl original (Debian 2.05) and our daemon get the same
config and the same requests and must give the same answers, byte for byte.

Each test first checks the Perl daemon against the answers written here (so the expectations
are the original's, not ours), then our daemon against the Perl daemon's answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory

#: Small pools: two cores are shared by many test runs.
SERVER = """
min_servers = 1
min_spare_servers = 1
max_spare_servers = 2
max_servers = 3
"""

MEMCACHED_SESSIONS = """
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

CLOSED = ["<connection closed>"]

#: (port number: 1 for {port}, 2 for {port2}, …; request attributes; the original's answer)
Exchange = tuple[int, Mapping[str, str], Sequence[str]]


def attrs(**attributes: str) -> dict[str, str]:
    """A RCPT request as Postfix sends it, with the given attributes added or replaced."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "sender": "sender@example.org",
        "recipient": "rcpt@example.com",
        **attributes,
    }


def converse(daemon: MtpolicydDaemon, exchanges: Sequence[Exchange]) -> list[list[str]]:
    """The daemon's answer to each request, each on a connection of its own."""
    answers = []
    for port_number, attributes, _ in exchanges:
        try:
            answers.append(daemon.request(attributes, port=daemon.ports[port_number - 1]))
        except ConnectionError:
            answers.append(list(CLOSED))
    return answers


def assert_same_answers(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    config: str,
    exchanges: Sequence[Exchange],
    values_by_daemon: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Run the exchanges against both daemons; the original must answer as written, ours as it."""
    values = values_by_daemon or {}
    perl = perl_mtpolicyd(SERVER + config, **values.get("perl", {}))
    perl_answers = converse(perl, exchanges)
    assert perl_answers == [list(expected) for _, _, expected in exchanges]
    perl.stop()
    python = python_mtpolicyd(SERVER + config, **values.get("python", {}))
    assert converse(python, exchanges) == perl_answers


def memcached_values(server: MemcachedServer) -> dict[str, dict[str, str]]:
    """Each daemon its own memcached namespace, so their sessions never mix."""
    run = uuid.uuid4().hex[:8]
    return {name: {"memcached": server.address, "namespace": f"{name}-{run}-"} for name in ("perl", "python")}


def instance() -> str:
    """A fresh mail instance id."""
    return uuid.uuid4().hex[:12]


ACTION_CONDITION = """
<VirtualHost {port}>
  name = action
  <Plugin mark>
    module = "SetField"
    key = "seen"
    value = "1"
  </Plugin>
  <Plugin nothing>
    module = "Condition"
    key = "queue_id"
    match = "never"
    action = "reject never"
  </Plugin>
  <Plugin reject-all>
    module = "Action"
    action = "reject no reason"
  </Plugin>
  <Plugin after>
    module = "Action"
    action = "accept never reached"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = condition
  <Plugin exact>
    module = "Condition"
    key = "queue_id"
    match = "4561B3D95D8B"
    action = "reject exact match"
  </Plugin>
  <Plugin regex>
    module = "Condition"
    key = "request:client_name"
    re_match = "\\.example\\.(org|net)$"
    action = "reject regex match"
  </Plugin>
  <Plugin greater>
    module = "Condition"
    key = "r:size"
    gt_match = "1000"
    action = "reject size too big"
  </Plugin>
  <Plugin less>
    module = "Condition"
    key = "size"
    lt_match = "10"
    action = "reject size too small"
  </Plugin>
  <Plugin inverted>
    module = "Condition"
    key = "helo_name"
    match = "good.example.com"
    invert = 1
    action = "reject bad helo"
  </Plugin>
  <Plugin nested>
    module = "Condition"
    key = "sender"
    re_match = "^nested@"
    <Plugin inner-mark>
      module = "SetField"
      key = "inner"
      value = "1"
    </Plugin>
    <Plugin inner-reply>
      module = "Action"
      action = "defer from nested chain"
    </Plugin>
  </Plugin>
</VirtualHost>
"""


def test_action_and_condition_match_kinds(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    good_helo = {"helo_name": "good.example.com", "size": "500"}
    exchanges: list[Exchange] = [
        (1, attrs(), ["action=reject no reason"]),
        (1, attrs(queue_id="never"), ["action=reject never"]),
        (2, attrs(queue_id="4561B3D95D8B", **good_helo), ["action=reject exact match"]),
        (2, attrs(queue_id="4561B3D95D8b", **good_helo), ["action=dunno"]),
        (2, attrs(client_name="mx.example.org", **good_helo), ["action=reject regex match"]),
        (2, attrs(client_name="mx.example.org.evil", **good_helo), ["action=dunno"]),
        (2, attrs(helo_name="good.example.com", size="1001"), ["action=reject size too big"]),
        (2, attrs(helo_name="good.example.com", size="1000"), ["action=dunno"]),
        (2, attrs(helo_name="good.example.com", size="9"), ["action=reject size too small"]),
        (2, attrs(helo_name="good.example.com", size="abc"), ["action=reject size too small"]),
        (2, attrs(helo_name="bad.example.com", size="500"), ["action=reject bad helo"]),
        # an undefined value never matches, not even inverted (and no size: no lt/gt test)
        (2, attrs(), ["action=dunno"]),
        (2, attrs(sender="nested@example.org", **good_helo), ["action=defer from nested chain"]),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, ACTION_CONDITION, exchanges)


SESSION_FIELDS = """
<VirtualHost {port}>
  name = fields
  <Plugin set-a>
    module = "SetField"
    key = "field-a"
    value = "on"
  </Plugin>
  <Plugin set-prefixed>
    module = "SetField"
    key = "sh_zen"
    value = "listed"
  </Plugin>
  <Plugin set-b>
    module = "SetField"
    key = "field-b"
    value = "on"
  </Plugin>
  <Plugin clear>
    module = "ClearFields"
    fields = "field-a"
    fields_prefix = "sh_"
  </Plugin>
  <Plugin check-a>
    module = "Condition"
    key = "session:field-a"
    match = "on"
    action = "reject field-a still set"
  </Plugin>
  <Plugin check-prefixed>
    module = "Condition"
    key = "s:sh_zen"
    re_match = "."
    action = "reject sh_zen still set"
  </Plugin>
  <Plugin check-request-scope>
    module = "Condition"
    key = "field-b"
    match = "on"
    action = "reject request attribute field-b"
  </Plugin>
  <Plugin check-b>
    module = "Condition"
    key = "s:field-b"
    match = "on"
    action = "reject field-b set"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = eval
  <Plugin eval-it>
    module = "Eval"
    store_in = "eval_result"
    <Plugin under-stress>
      module = "Stress"
      action = "defer stressed"
    </Plugin>
    <Plugin default>
      module = "Action"
      action = "reject evaluated"
    </Plugin>
  </Plugin>
  <Plugin use-eval>
    module = "Condition"
    key = "session:eval_result"
    match = "reject evaluated"
    action = "reject eval said reject"
  </Plugin>
  <Plugin use-eval-stress>
    module = "Condition"
    key = "session:eval_result"
    re_match = "^defer"
    action = "defer eval said defer"
  </Plugin>
</VirtualHost>
<VirtualHost {port3}>
  name = stress
  <Plugin stress-chain>
    module = "Condition"
    key = "queue_id"
    match = "chain"
    <Plugin nested-stress>
      module = "Stress"
      <Plugin inner>
        module = "Action"
        action = "defer nested stress"
      </Plugin>
    </Plugin>
  </Plugin>
  <Plugin stress>
    module = "Stress"
    action = "defer please try again later"
  </Plugin>
</VirtualHost>
"""


def test_session_fields_eval_and_stress(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    exchanges: list[Exchange] = [
        (1, attrs(instance=instance()), ["action=reject field-b set"]),
        (1, attrs(instance=instance(), **{"field-b": "on"}), ["action=reject request attribute field-b"]),
        (2, attrs(instance=instance()), ["action=reject eval said reject"]),
        (2, attrs(instance=instance(), stress="yes"), ["action=defer eval said defer"]),
        (3, attrs(stress="yes"), ["action=defer please try again later"]),
        (3, attrs(stress="yes", queue_id="chain"), ["action=defer nested stress"]),
        (3, attrs(stress="no", queue_id="chain"), ["action=dunno"]),
        (3, attrs(stress="no"), ["action=dunno"]),
        (3, attrs(), ["action=dunno"]),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, SESSION_FIELDS, exchanges)


SCORING = """
<VirtualHost {port}>
  name = scoring
  <Plugin five>
    module = "Condition"
    key = "queue_id"
    re_match = "^SPAM"
    score = 5.0
  </Plugin>
  <Plugin tenth>
    module = "Condition"
    key = "queue_id"
    re_match = "^S"
    score = 0.1
  </Plugin>
  <Plugin fifth>
    module = "Condition"
    key = "queue_id"
    re_match = "^S"
    score = 0.2
  </Plugin>
  <Plugin negative>
    module = "Condition"
    key = "queue_id"
    match = "GOOD"
    score = -3
  </Plugin>
  <Plugin good>
    module = "ScoreAction"
    threshold = -3
    match = "lt"
    action = "accept good score=%SCORE%%SCORE_DETAIL%"
  </Plugin>
  <Plugin bad>
    module = "ScoreAction"
    threshold = 5.25
    action = "reject %IP% %IP% is blocked (score=%SCORE%%SCORE_DETAIL%)"
  </Plugin>
  <Plugin no-detail>
    module = "ScoreAction"
    threshold = 0
    match = "lt"
    action = "defer score=%SCORE%%SCORE_DETAIL%."
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = nested-score
  <Plugin five>
    module = "Condition"
    key = "queue_id"
    match = "SPAM"
    score = 5
  </Plugin>
  <Plugin over-five>
    module = "ScoreAction"
    threshold = 5
    <Plugin inner>
      module = "Action"
      action = "reject from nested chain"
    </Plugin>
  </Plugin>
</VirtualHost>
<VirtualHost {port3}>
  name = broken
  <Plugin bad-match>
    module = "ScoreAction"
    threshold = 5
    match = "ge"
    action = "reject"
  </Plugin>
</VirtualHost>
"""


def test_score_action_expansions_and_edges(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    exchanges: list[Exchange] = [
        (
            1,
            attrs(queue_id="SPAM1", client_address="192.0.2.7"),
            ["action=reject 192.0.2.7 %IP% is blocked (score=5.3, five=5.0, tenth=0.1, fifth=0.2)"],
        ),
        (
            1,
            attrs(queue_id="SPAM1"),
            ["action=reject unknown %IP% is blocked (score=5.3, five=5.0, tenth=0.1, fifth=0.2)"],
        ),
        (1, attrs(queue_id="S"), ["action=dunno"]),
        (1, attrs(queue_id="GOOD"), ["action=accept good score=-3, negative=-3"]),
        (1, attrs(queue_id="other"), ["action=defer score=0."]),
        (2, attrs(queue_id="SPAM"), ["action=reject from nested chain"]),
        (2, attrs(queue_id="HAM"), ["action=dunno"]),
        (3, attrs(), CLOSED),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, SCORING, exchanges)


SCORE_HEADER = """
<VirtualHost {port}>
  name = header
  <Plugin spam>
    module = "Condition"
    key = "queue_id"
    match = "SPAM"
    score = 2.5
  </Plugin>
  <Plugin more-spam>
    module = "Condition"
    key = "queue_id"
    match = "SPAM"
    score = 5
  </Plugin>
  <Plugin header>
    module = "AddScoreHeader"
  </Plugin>
  <Plugin not-reached-after-header>
    module = "Action"
    action = "reject after header"
  </Plugin>
</VirtualHost>
"""


def test_add_score_header_once_per_mail(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory, memcached_server: MemcachedServer
) -> None:
    mail, other = instance(), instance()
    exchanges: list[Exchange] = [
        (
            1,
            attrs(instance=mail, queue_id="SPAM"),
            ["action=PREPEND X-MtScore: YES score=7.5 [spam=2.5, more-spam=5]"],
        ),
        (1, attrs(instance=mail, queue_id="SPAM"), ["action=dunno"]),
        (1, attrs(instance=other), ["action=PREPEND X-MtScore: NO score=0"]),
        (1, attrs(instance=other), ["action=dunno"]),
        # without instance there is no session: the original fails the request (no score details)
        (1, attrs(queue_id="SPAM"), CLOSED),
        (1, attrs(queue_id="SPAM"), CLOSED),
    ]
    assert_same_answers(
        perl_mtpolicyd,
        python_mtpolicyd,
        MEMCACHED_SESSIONS + SCORE_HEADER,
        exchanges,
        memcached_values(memcached_server),
    )


REGEX_LIST = """
<VirtualHost {port}>
  name = regex
  <Plugin google>
    module = "RegexList"
    key = "request:client_name"
    regex = "^mail-[a-z][a-z]0-f[0-9]*\\.google\\.com$"
    action = "accept google"
  </Plugin>
  <Plugin from-file>
    module = "RegexList"
    key = "client_name"
    file = "{regex_file}"
    score = 3
  </Plugin>
  <Plugin not-listed>
    module = "RegexList"
    key = "helo_name"
    regex = "^[a-z.]+$"
    invert = 1
    action = "reject odd helo"
  </Plugin>
  <Plugin score>
    module = "ScoreAction"
    threshold = 3
    action = "reject score=%SCORE%%SCORE_DETAIL%"
  </Plugin>
</VirtualHost>
"""


def test_regex_list_matches_scores_once_and_inverts(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    memcached_server: MemcachedServer,
    tmp_path: Path,
) -> None:
    regex_file = tmp_path / "regex.txt"
    regex_file.write_text("# listed hosts\n\n\\.bofh-noc\\.de$\n^spam[0-9]+\\.\n")
    values = memcached_values(memcached_server)
    for daemon_values in values.values():
        daemon_values["regex_file"] = str(regex_file)
    mail = instance()
    exchanges: list[Exchange] = [
        (
            1,
            attrs(instance=instance(), client_name="mail-ab0-f12.google.com", helo_name="x"),
            ["action=accept google"],
        ),
        (
            1,
            attrs(instance=instance(), client_name="zumsel.bofh-noc.de", helo_name="x"),
            ["action=reject score=3, from-file=3"],
        ),
        # without instance there is no session: ScoreAction fails the request (no score details)
        (1, attrs(client_name="zumsel.bofh-noc.de", helo_name="x"), CLOSED),
        (1, attrs(instance=instance(), client_name="other.example.org", helo_name="x"), ["action=dunno"]),
        (
            1,
            attrs(instance=instance(), client_name="other.example.org", helo_name="HELO_1"),
            ["action=reject odd helo"],
        ),
        # the score is added once per mail: the second request of the mail still has 3
        (
            1,
            attrs(instance=mail, client_name="spam1.example.org", helo_name="x"),
            ["action=reject score=3, from-file=3"],
        ),
        (
            1,
            attrs(instance=mail, client_name="spam1.example.org", helo_name="x"),
            ["action=reject score=3, from-file=3"],
        ),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, MEMCACHED_SESSIONS + REGEX_LIST, exchanges, values)


ON_ERROR = """
<VirtualHost {port}>
  name = errors
  <Plugin bad-scope>
    module = "Condition"
    key = "nosuchscope:queue_id"
    match = "x"
    action = "reject never"
    on_error = "continue"
  </Plugin>
  <Plugin fallback>
    module = "Action"
    action = "reject after error"
  </Plugin>
</VirtualHost>
<VirtualHost {port2}>
  name = fatal
  <Plugin bad-scope>
    module = "Condition"
    key = "nosuchscope:queue_id"
    match = "x"
    action = "reject never"
  </Plugin>
</VirtualHost>
"""


def test_plugin_failures_continue_or_close(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    exchanges: list[Exchange] = [
        (1, attrs(queue_id="x"), ["action=reject after error"]),
        (2, attrs(queue_id="x"), CLOSED),
    ]
    assert_same_answers(perl_mtpolicyd, python_mtpolicyd, ON_ERROR, exchanges)


KEEPALIVE = """
<VirtualHost {port}>
  name = keepalive
  <Plugin count>
    module = "Condition"
    key = "queue_id"
    match = "A"
    score = 1
  </Plugin>
  <Plugin header>
    module = "AddScoreHeader"
    spam_score = 2
  </Plugin>
</VirtualHost>
"""


@pytest.mark.parametrize("mails", [1, 2])
def test_requests_on_one_connection_share_the_mail_session(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    memcached_server: MemcachedServer,
    mails: int,
) -> None:
    values = memcached_values(memcached_server)
    ids = [instance() for _ in range(mails)]
    requests = [attrs(instance=ids[number % mails], queue_id="A") for number in range(3)]
    answers = {}
    for name, factory in (("perl", perl_mtpolicyd), ("python", python_mtpolicyd)):
        daemon = factory(SERVER + MEMCACHED_SESSIONS + KEEPALIVE, **values[name])
        with daemon.connect() as connection:
            answers[name] = [connection.request(request) for request in requests]
        daemon.stop()
    expected = {
        1: [["action=PREPEND X-MtScore: NO score=1 [count=1]"], ["action=dunno"], ["action=dunno"]],
        2: [
            ["action=PREPEND X-MtScore: NO score=1 [count=1]"],
            ["action=PREPEND X-MtScore: NO score=1 [count=1]"],
            ["action=dunno"],
        ],
    }
    assert answers["perl"] == expected[mails]
    assert answers["python"] == answers["perl"]


DIALECT_1_CONDITION = """
memcached_servers = "{memcached}"
memcached_namespace = "{namespace}"
<VirtualHost {port}>
  name = dialect1
  <Plugin set>
    module = "SetField"
    key = "greylisting"
    value = "on"
  </Plugin>
  <Plugin request-attribute-is-not-read>
    module = "Condition"
    key = "queue_id"
    match = "Q"
    action = "reject read a request attribute"
  </Plugin>
  <Plugin invert-is-ignored>
    module = "Condition"
    key = "greylisting"
    match = "off"
    invert = 1
    action = "reject inverted"
  </Plugin>
  <Plugin session-field>
    module = "Condition"
    key = "greylisting"
    match = "on"
    score = 2.0
    action = "defer greylisting %SCORE%"
  </Plugin>
</VirtualHost>
"""


def test_condition_dialect_1_reads_session_fields_like_1_17(
    python_mtpolicyd: DaemonFactory, memcached_server: MemcachedServer
) -> None:
    """No 1.17 daemon is packaged: the answer is the one 1.17's Condition gives (it reads session
    fields only, knows no ``invert``, and leaves ``%SCORE%`` in a Condition action alone)."""
    python = python_mtpolicyd(SERVER + DIALECT_1_CONDITION, **memcached_values(memcached_server)["python"])
    exchanges: list[Exchange] = [
        (1, attrs(instance=instance(), queue_id="Q"), ["action=defer greylisting %SCORE%"]),
    ]
    assert converse(python, exchanges) == [list(expected) for _, _, expected in exchanges]


def test_empty_instance_keeps_one_session_like_the_original(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory, memcached_server: MemcachedServer
) -> None:
    """2.05 keeps a session for ``instance=`` (defined, though empty): every such request shares it,
    so the once-per-mail header comes only once. Only a missing ``instance`` means no session."""
    exchanges: list[Exchange] = [
        (1, attrs(instance="", queue_id="A"), ["action=PREPEND X-MtScore: NO score=1 [count=1]"]),
        (1, attrs(instance="", queue_id="A"), ["action=dunno"]),
        (1, attrs(queue_id="A"), CLOSED),  # no instance: AddScoreHeader fails without a session
    ]
    assert_same_answers(
        perl_mtpolicyd,
        python_mtpolicyd,
        MEMCACHED_SESSIONS + KEEPALIVE,
        exchanges,
        memcached_values(memcached_server),
    )
