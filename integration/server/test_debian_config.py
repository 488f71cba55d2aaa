"""Debian's shipped /etc/mtpolicyd/mtpolicyd.conf (ports and paths substituted only) answers as the
Perl daemon does on the same file, DNS lists served by a local rbldnsd, keepalive_timeout = 0 included."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from integration.fixtures.daemons import MtpolicydDaemon
from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory
from integration.fixtures.policy_client import PolicyConnection
from integration.fixtures.rbldnsd import RbldnsdServer

DEBIAN_CONFIG = (Path(__file__).parent / "data" / "debian-mtpolicyd.conf").read_text()
GEOIP_WRITER = Path(__file__).parents[2] / "packages" / "mtpolicyd-core" / "tests" / "geoip_data.py"

ZONES = {
    "list.dnswl.org": ":127.0.10.0:dnswl\n192.0.2.20\n",
    "zen.spamhaus.org": ":127.0.0.2:sbl\n192.0.2.30\n192.0.2.31 :127.0.0.4:xbl\n192.0.2.32 :127.0.0.10:pbl\n",
    "dnsbl.sorbs.net": ":127.0.0.2:sorbs\n192.0.2.30\n192.0.2.31\n",
    "ix.dnsbl.manitu.net": ":127.0.0.2:manitu\n192.0.2.30\n",
    "bl.spamcop.net": ":127.0.0.2:spamcop\n192.0.2.30\n",
    "drone.abuse.ch": ":127.0.0.2:drone\n192.0.2.33\n",
    "db.wpbl.info": ":127.0.0.2:wpbl\n192.0.2.33\n",
    "bb.barracudacentral.org": ":127.0.0.2:barracuda\n192.0.2.33\n",
    "dbl.spamhaus.org": ("dnset", "spam.mail.test\n.spam.mail.test\n"),
    "mail.test": (
        "generic",
        'pass TXT "v=spf1 ip4:192.0.2.0/24 -all"\nfail TXT "v=spf1 ip4:203.0.113.0/24 -all"\n'
        'soft TXT "v=spf1 ~all"\n',
    ),
}
#: clients: listed nowhere, in dnswl, heavily listed, XBL only, PBL, three small lists, Germany, Russia
CLIENTS = [
    "192.0.2.1",
    "192.0.2.20",
    "192.0.2.30",
    "192.0.2.31",
    "192.0.2.32",
    "192.0.2.33",
    "198.51.100.7",
    "198.51.100.200",
]
SENDERS = ["a@pass.mail.test", "a@fail.mail.test", "a@soft.mail.test", "a@spam.mail.test", ""]


def request(number: int, client: str, sender: str, tag: str) -> dict[str, str]:
    return {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "instance": f"{tag}.{number}",
        "client_address": client,
        "client_name": "unknown",
        "reverse_client_name": "unknown",
        "helo_name": "mx.spam.mail.test" if number % 3 == 0 else "mx.pass.mail.test",
        "sender": sender,
        "recipient": f"rcpt{number}@example.net",
    }


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the daemons' user ``mtpolicyd`` may write (SQLite) and read (GeoIP)."""
    path = Path(tempfile.mkdtemp(prefix="mtpolicyd-debian-"))
    entry = pwd.getpwnam("mtpolicyd")
    os.chown(path, entry.pw_uid, entry.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def geoip_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("geoip_data", GEOIP_WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(os.geteuid() != 0, reason="the file runs the daemons as user mtpolicyd")
def test_debian_config_answers_like_the_perl_daemon(
    perl_mtpolicyd: DaemonFactory,
    python_mtpolicyd: DaemonFactory,
    memcached_factory: Callable[[], MemcachedServer],
    rbldnsd_server: Callable[..., RbldnsdServer],
    shared_dir: Path,
) -> None:
    dns = rbldnsd_server(ZONES)
    config = DEBIAN_CONFIG
    if not user_can_import_sqlite3("mtpolicyd"):
        # This interpreter lives where user mtpolicyd cannot read (e.g. under /root): both daemons
        # then run as root, the one change to the file beyond ports and paths.
        config = config.replace("user=mtpolicyd\ngroup=mtpolicyd\n", "user=root\ngroup=root\n")
    answers: dict[str, list[list[str]]] = {}
    for kind, factory in (("perl", perl_mtpolicyd), ("python", python_mtpolicyd)):
        workdir = shared_dir / kind
        workdir.mkdir()
        owner = pwd.getpwnam("mtpolicyd")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        geoip = geoip_writer().write_country_dat(
            workdir / "GeoIP.dat", {"198.51.100.0/25": "DE", "198.51.100.128/25": "RU"}
        )
        daemon = factory(
            config, env=dns.env, memcached=memcached_factory().address, dbdir=workdir, geoip=geoip
        )
        answers[kind] = ask_all(daemon)
    assert answers["python"] == answers["perl"]
    assert any(answer[0].startswith("action=reject sender ip") for answer in answers["perl"])
    assert any(answer[0].startswith("action=PREPEND X-MtScore") for answer in answers["perl"])


def user_can_import_sqlite3(user: str) -> bool:
    """Whether ``user`` can load this interpreter's standard library lazily (after privileges drop)."""
    command = ["runuser", "-u", user, "--", sys.executable, "-c", "import sqlite3"]
    return subprocess.run(command, capture_output=True, check=False, cwd="/").returncode == 0


def ask_all(daemon: MtpolicydDaemon) -> list[list[str]]:
    """Every client with every sender on one kept-alive connection that idles between requests
    (keepalive_timeout = 0 means no limit), each mail asked twice (the second time from the session)."""
    results = []
    with PolicyConnection(daemon.host, daemon.port, timeout=60) as conn:
        number = 0
        for client in CLIENTS:
            for sender in SENDERS:
                number += 1
                for _ in range(2):
                    results.append(conn.request(request(number, client, sender, "mail")))
            time.sleep(0.2)
        time.sleep(3)  # idle: the Debian file's keepalive_timeout = 0 keeps the connection open
        results.append(conn.request(request(0, CLIENTS[0], SENDERS[0], "after-idle")))
    return results
