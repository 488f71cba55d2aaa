"""``scripts/run-demo`` starts the daemon on the packaged demo config; netcat gets an answer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from integration.fixtures.ports import tcp_port_open
from integration.fixtures.processes import ServiceProcess
from integration.server.daemon_helpers import wait_for

RUN_DEMO = Path(__file__).parents[2] / "scripts" / "run-demo"
DEMO_PORT = 12345


def test_run_demo_answers_a_request_sent_with_netcat(tmp_path: Path) -> None:
    netcat = shutil.which("nc")
    if netcat is None:
        pytest.fail("nc not found: install the Debian package netcat-openbsd")
    if tcp_port_open("127.0.0.1", DEMO_PORT):
        pytest.fail(f"port {DEMO_PORT} is already in use; the demo needs it")
    env = {"MTPOLICYD": str(Path(sys.executable).parent / "mtpolicyd"), "TMPDIR": str(tmp_path)}
    demo = ServiceProcess([str(RUN_DEMO)], tmp_path / "demo.log", env=env)
    demo.start(lambda: tcp_port_open("127.0.0.1", DEMO_PORT), "scripts/run-demo")
    try:
        assert netcat_answer(netcat) == ["action=PREPEND X-MtScore: NO score=0", ""]
        logged = "demo: instance=netcat-test, type=smtpd_access_policy"
        wait_for(lambda: logged in demo.log_text(), 10, "the request log")
        [workdir] = tmp_path.glob("mtpolicyd-demo.*")
        assert (workdir / "mtpolicyd-sessions.sqlite").exists()
    finally:
        demo.stop()


def netcat_answer(netcat: str) -> list[str]:
    """``printf 'request=…' | nc 127.0.0.1 12345`` as the README has it: the reply's lines.

    nc keeps the connection open (the daemon waits for more requests), so it is
    stopped once the reply's empty line has come.
    """
    with subprocess.Popen(
        [netcat, "127.0.0.1", str(DEMO_PORT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as client:
        assert client.stdin is not None and client.stdout is not None
        # not run-demo's own instance=x: whichever of the two requests of one mail comes second gets
        # dunno (AddScoreHeader adds its header once per mail), and under load run-demo's may be first
        client.stdin.write("request=smtpd_access_policy\ninstance=netcat-test\n\n")
        client.stdin.flush()
        lines = [client.stdout.readline().rstrip("\n")]
        while lines[-1] != "":
            lines.append(client.stdout.readline().rstrip("\n"))
        client.kill()
    return lines
