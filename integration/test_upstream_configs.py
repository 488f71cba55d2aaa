"""Upstream's example configs load in our daemon (``mtpolicyd -d``); bad ones exit 2 naming file and line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mtpolicyd_core.config.parser import parse_config_file
from mtpolicyd_core.config.tree import Block

from integration.fixtures.daemons import MtpolicydDaemon, python_mtpolicyd_argv
from integration.fixtures.plugin import DaemonFactory

UPSTREAM = Path(__file__).parent / "configs" / "upstream"
#: values for the Template Toolkit placeholders of upstream's t-data files
TEMPLATE_VALUES = {"[% port %]": "12345", "[% memcached_port %]": "11211"}


def run_describe(config: Path) -> subprocess.CompletedProcess[str]:
    """``mtpolicyd -d -c CONFIG`` as a separate process."""
    return subprocess.run(
        [*python_mtpolicyd_argv(), "-d", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rendered(name: str, workdir: Path) -> Path:
    """The upstream file with its template placeholders filled in.

    The 1.17 example leaves ``db_dsn=`` empty although its Greylist plugin needs SQL;
    Perl 1.17 refuses it at start-up just as we do, so the test gives it a SQLite file.
    """
    text = (UPSTREAM / name).read_text()
    for placeholder, value in TEMPLATE_VALUES.items():
        text = text.replace(placeholder, value)
    text = text.replace("\ndb_dsn=\n", f"\ndb_dsn=dbi:SQLite:dbname={workdir / 'mtpolicyd.sqlite'}\n")
    path = workdir / name
    path.write_text(text)
    return path


def plugin_names(block: Block) -> list[str]:
    """Every ``<Plugin NAME>`` at any depth, in file order."""
    names = []
    for plugin in block.blocks("Plugin"):
        names.append(plugin.name or "")
        names += plugin_names(plugin)
    return names


@pytest.mark.parametrize("name", sorted(path.name for path in UPSTREAM.glob("*.conf")))
def test_upstream_config_is_described_with_every_vhost_and_plugin(name: str, tmp_path: Path) -> None:
    config = rendered(name, tmp_path)
    result = run_describe(config)
    assert result.returncode == 0, result.stderr
    assert "could not" not in result.stderr
    for vhost in parse_config_file(str(config)).blocks("VirtualHost"):
        assert f"<VirtualHost {vhost.name}>" in result.stdout
        assert f'name = "{vhost.get("name")}"' in result.stdout
        for plugin in plugin_names(vhost):
            assert f"<Plugin {plugin}>" in result.stdout


VHOST = '<VirtualHost 12345>\n  name = "test"\n'
PLUGIN = '  <Plugin x>\n    module = "Action"\n    action = "reject"\n  </Plugin>\n'

#: config text, and the line the error must name
BAD_CONFIGS = {
    "unknown module": (VHOST + PLUGIN.replace('"Action"', '"NoSuchPlugin"') + "</VirtualHost>\n", 3),
    "missing module": (VHOST + PLUGIN.replace('    module = "Action"\n', "") + "</VirtualHost>\n", 3),
    "unterminated block": (VHOST + PLUGIN, 1),
    "wrong closing tag": (VHOST + PLUGIN.replace("  </Plugin>", "</VirtualHost>"), 6),
    "duplicate option": ("log_level = 2\nlog_level = 3\n" + VHOST + PLUGIN + "</VirtualHost>\n", 2),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_naming_file_and_line(case: str, tmp_path: Path) -> None:
    text, line = BAD_CONFIGS[case]
    config = tmp_path / "bad.conf"
    config.write_text(text)
    result = run_describe(config)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{config} line {line}" in result.stderr


# -- upstream's 2.05 test data: the dialect told at start, a stale memcached_servers too ------------

ONE_X_EVIDENCE = (
    "db_dsn at line {13}, db_user at line {14}, db_password at line {15}, memcached_servers at line {18},"
    " session_lock_wait at line {23}, session_lock_max_retry at line {25}, session_lock_timeout at line {27}"
)
#: each t-data file: the dialect we read it in, and the evidence the start-up log names
T_DATA_DIALECTS = {
    "t-data-2.05-minimal.conf": ("2", "<Connection memcached> at line {12}, <SessionCache> at line {18}"),
    "t-data-2.05-spamhaus-rbls.conf": ("1", ONE_X_EVIDENCE),
    "t-data-2.05-vhost-by-policy-context.conf": ("1", ONE_X_EVIDENCE),
}


def daemon_template(name: str, prefix: str = "") -> str:
    """An upstream t-data file as a daemon fixture template: its placeholders become ours."""
    text = (UPSTREAM / name).read_text()
    return prefix + text.replace("[% port %]", "{port}").replace("[% memcached_port %]", "{memcached_port}")


def shifted(text: str, config_path: Path, name: str) -> str:
    """``{N}`` in ``text`` → the line upstream's line N has in the file the fixture wrote."""
    written = config_path.read_text().split("\n")
    upstream = (UPSTREAM / name).read_text().split("\n")
    offset = len(written) - len(upstream)
    for line in range(1, len(upstream) + 1):
        text = text.replace("{" + str(line) + "}", str(line + offset))
    return text


@pytest.mark.parametrize("name", sorted(T_DATA_DIALECTS))
def test_upstream_2_05_test_config_starts_with_the_dialect_line_in_the_log(
    name: str, python_mtpolicyd: DaemonFactory, free_port: Callable[..., int]
) -> None:
    daemon = python_mtpolicyd(daemon_template(name), memcached_port=str(free_port()))
    daemon.wait_for_log("read as dialect")
    daemon.wait_for_log("the session cache does not answer at start-up")
    dialect, evidence = T_DATA_DIALECTS[name]
    path = daemon.config_path
    log = daemon.log_text()
    assert f"configuration {path} read as dialect {dialect}.x: {shifted(evidence, path, name)}" in log
    # No memcached answers there: said once at start, naming the line that asked for it.
    assert f"{path} line {shifted('{18}', path, name)}: the session cache does not answer at start-up" in log
    assert "every request with an instance is closed unanswered" in log
    assert ("Perl 2.x ignores these globals" in log) == (dialect == "1")


VHOST_BY_CONTEXT = "t-data-2.05-vhost-by-policy-context.conf"
CONTEXT_REQUESTS = [
    (
        {"request": "smtpd_access_policy", "instance": "a1.b2", "policy_context": ""},
        ["action=reject my name is fred"],
    ),
    (
        {"request": "smtpd_access_policy", "instance": "a1.b3", "policy_context": "horst"},
        ["action=reject my name is horst"],
    ),
]


def answers(daemon: MtpolicydDaemon) -> list[list[str]]:
    replies = []
    for attributes, _ in CONTEXT_REQUESTS:
        try:
            replies.append(daemon.request(attributes))
        except ConnectionError:
            replies.append(["<connection closed>"])
    return replies


def test_upstream_file_with_stale_memcached_servers_answers_like_perl_2_05_when_read_as_2x(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory
) -> None:
    """Perl 2.05 ignores ``memcached_servers`` and keeps no session; we read the file as 1.x and
    close each request while that memcached is away, unless ``config_dialect = 2`` says otherwise."""
    perl = perl_mtpolicyd(daemon_template(VHOST_BY_CONTEXT))
    assert answers(perl) == [expected for _, expected in CONTEXT_REQUESTS]
    as_1x = python_mtpolicyd(daemon_template(VHOST_BY_CONTEXT))
    assert answers(as_1x) == [["<connection closed>"]] * len(CONTEXT_REQUESTS)
    as_2x = python_mtpolicyd(daemon_template(VHOST_BY_CONTEXT, "config_dialect = 2\n"))
    assert answers(as_2x) == answers(perl)
