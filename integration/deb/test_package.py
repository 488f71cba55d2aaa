"""The Debian package built, linted and installed into clean Debian 12 chroots (``tox -e deb``).

Builds with scripts/build-deb (or takes MTPOLICYD_DEB=path/to.deb), runs lintian, and installs
with ``apt install ./…deb`` into a chroot made by debootstrap (the minbase tarball is kept in
MTPOLICYD_DEB_CACHE, default /var/tmp/mtpolicyd-python-deb-test): once alone, once next to
Debian's Perl mtpolicyd. Needs root, debootstrap, lintian and the network (Debian mirror, PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.fixtures.ports import LOCALHOST, free_port, tcp_port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("MTPOLICYD_DEB_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("MTPOLICYD_DEB_CACHE", "/var/tmp/mtpolicyd-python-deb-test"))
UNITS = [
    "mtpolicyd-python.service",
    "mtpolicyd-python-hourly.timer",
    "mtpolicyd-python-daily.timer",
    "mtpolicyd-python-cron@hourly.service",
]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroots need root")


def run(argv: list[str | Path]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("MTPOLICYD_DEB")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("deb")
    run([ROOT / "scripts" / "build-deb", out])
    return next(out.glob("mtpolicyd-python_*.deb"))


@pytest.fixture(scope="module")
def base_tarball() -> Path:
    """A debootstrapped Debian 12 minbase system as a tarball, made once and kept."""
    tarball = CACHE / "bookworm-minbase.tar.gz"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            pytest.skip("debootstrap is not installed")
        CACHE.mkdir(parents=True, exist_ok=True)
        base = CACHE / "base"
        shutil.rmtree(base, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "bookworm", base, MIRROR])
        run(["tar", "-C", base, "-czf", f"{tarball}.part", "."])
        os.replace(f"{tarball}.part", tarball)
        shutil.rmtree(base)
    return tarball


class Chroot:
    """A Debian 12 system in a directory, with /proc mounted and the host's resolver."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND": "noninteractive",
            "LC_ALL": "C.UTF-8",
        }
        done = subprocess.run(
            ["chroot", str(self.root), "sh", "-ec", script],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if check:
            assert done.returncode == 0, f"{script}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def install(self, deb: Path) -> subprocess.CompletedProcess[str]:
        shutil.copy(deb, self.root / "tmp" / deb.name)
        return self.sh(f"apt-get install -y -q /tmp/{deb.name}")

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.root / path.lstrip("/"))


@pytest.fixture
def chroot(base_tarball: Path, tmp_path: Path) -> Iterator[Chroot]:
    root = tmp_path / "root"
    root.mkdir()
    run(["tar", "-C", root, "-xzf", base_tarball])
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    run(["mount", "-t", "proc", "proc", root / "proc"])
    try:
        system = Chroot(root)
        system.sh("apt-get update -q")
        yield system
    finally:
        run(["umount", root / "proc"])


def test_package_is_lintian_clean(deb: Path) -> None:
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed")
    linted = subprocess.run(
        ["lintian", "--fail-on", "error,warning", "--display-level", ">=warning", str(deb)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0 and not linted.stdout.strip(), linted.stdout + linted.stderr


def answer_from_installed_daemon(chroot: Chroot) -> str:
    """Start the installed daemon as user mtpolicyd on the packaged config (moved to a free port)
    and ask it through the installed policy-sim."""
    port = free_port()
    config = (chroot.root / "etc/mtpolicyd-python/mtpolicyd.conf").read_text()
    config = config.replace("127.0.0.1:12345", f"{LOCALHOST}:{port}").replace(
        "<VirtualHost 12345>", f"<VirtualHost {port}>"
    )
    (chroot.root / "tmp/test.conf").write_text(config)
    daemon = subprocess.Popen(
        [
            "chroot",
            "--userspec=mtpolicyd:mtpolicyd",
            str(chroot.root),
            "/usr/sbin/mtpolicyd-py",
            "-f",
            "-c",
            "/tmp/test.conf",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def died() -> str | None:
        return (
            None
            if daemon.poll() is None
            else f"exit {daemon.returncode}: {daemon.stdout.read() if daemon.stdout else ''}"
        )

    try:
        wait_until(lambda: tcp_port_open(LOCALHOST, port), 60, "installed mtpolicyd-py", died)
        sent = chroot.sh(
            f"policy-sim send -H {LOCALHOST}:{port} request=smtpd_access_policy instance=deb.1"
            " client_address=192.0.2.1 client_name=unknown helo_name=192.0.2.1"
        )
        return sent.stdout.strip()
    finally:
        daemon.terminate()
        daemon.wait(60)


def test_installs_alone_runs_verifies_and_purges(chroot: Chroot, deb: Path) -> None:
    chroot.install(deb)
    assert chroot.sh("getent passwd mtpolicyd").stdout.split(":")[5] == "/var/lib/mtpolicyd-python"
    for wanted in (
        "etc/systemd/system/multi-user.target.wants/mtpolicyd-python.service",
        "etc/systemd/system/timers.target.wants/mtpolicyd-python-hourly.timer",
        "etc/systemd/system/timers.target.wants/mtpolicyd-python-daily.timer",
    ):
        assert chroot.exists(wanted), wanted  # no Perl mtpolicyd: enabled
    described = chroot.sh("mtpolicyd-py -d -c /etc/mtpolicyd-python/mtpolicyd.conf").stdout
    assert "reject-by-score" in described
    assert (
        chroot.sh("policy-sim --version").stdout.strip()
        == f"policy-sim {(ROOT / 'VERSION').read_text().strip()}"
    )
    modules = chroot.sh(
        "/usr/lib/mtpolicyd-python/bin/python -c 'import spf, ldap3, yaml, pygeoip, sqlalchemy, berkeleydb,"
        " asyncmy; print(spf.__file__, ldap3.__file__, sqlalchemy.__file__)'"
    ).stdout.split()
    assert modules[0].startswith("/usr/lib/python3/dist-packages/")  # from Debian
    assert modules[1].startswith("/usr/lib/python3/dist-packages/")
    assert modules[2].startswith("/usr/lib/mtpolicyd-python/")  # bundled
    assert answer_from_installed_daemon(chroot).startswith("reject sender ip 192.0.2.1 is blocked (score 5")

    chroot.sh("apt-get install -y -q --no-install-recommends systemd man-db")
    verified = chroot.sh(
        "systemd-analyze verify " + " ".join(f"/lib/systemd/system/{unit}" for unit in UNITS)
    )
    assert not (verified.stdout + verified.stderr).strip(), verified.stdout + verified.stderr

    chroot.sh("apt-get purge -y -q mtpolicyd-python")
    for gone in (
        "usr/lib/mtpolicyd-python",
        "etc/mtpolicyd-python",
        "var/lib/mtpolicyd-python",
        "usr/sbin/mtpolicyd-py",
        "etc/systemd/system/multi-user.target.wants/mtpolicyd-python.service",
    ):
        assert not chroot.exists(gone), gone
    chroot.sh("getent passwd mtpolicyd")  # kept: files elsewhere may still be its


def test_installs_next_to_the_perl_mtpolicyd(chroot: Chroot, deb: Path) -> None:
    chroot.sh("apt-get install -y -q mtpolicyd")
    installed = chroot.install(deb)
    assert "the Perl mtpolicyd is installed" in installed.stderr
    assert not chroot.exists("etc/systemd/system/multi-user.target.wants/mtpolicyd-python.service")
    assert chroot.exists("usr/bin/mtpolicyd") and chroot.exists("usr/sbin/mtpolicyd-py")
    # the Perl package's own configuration runs unchanged
    described = chroot.sh("mtpolicyd-py -d -c /etc/mtpolicyd/mtpolicyd.conf").stdout
    assert "GeoIPLookup" in described
    assert answer_from_installed_daemon(chroot).startswith("reject sender ip 192.0.2.1 is blocked (score 5")
    chroot.sh("apt-get remove -y -q mtpolicyd-python")
    assert chroot.exists("usr/bin/mtpolicyd") and chroot.exists("etc/mtpolicyd/mtpolicyd.conf")
