"""The built distributions, installed with pip into a fresh venv away from the checkout.

Builds each distribution's sdist and, from that sdist, its wheel (``python -m build``: proves the
sdist self-contained, VERSION included), installs the three wheels without extras, and checks
that ``mtpolicyd`` serves and ``policy-sim`` talks to it, that all report the one version, and
that a config naming a plugin whose extra is missing gets the install line, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.fixtures.ports import LOCALHOST, free_port, tcp_port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = ("mtpolicyd-core", "mtpolicyd-server", "policy-sim")
VERSION = (ROOT / "VERSION").read_text().strip()


def clean_env() -> dict[str, str]:
    """The environment without this venv's Python settings."""
    return {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))
    }


def run(argv: list[str | Path], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False
    )
    if check:
        assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdists and wheels (each wheel built from its sdist) of the three distributions."""
    base = tmp_path_factory.mktemp("dist")
    out = base / "dist"
    for name in DISTRIBUTIONS:  # from a copy: setuptools writes build/ and *.egg-info next to the source
        source = base / "src" / name
        shutil.copytree(
            ROOT / "packages" / name,
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
        run([sys.executable, "-m", "build", "--outdir", out, source], base)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the three wheels installed (dependencies from the index, no extras)."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", path], path.parent)
    run([path / "bin" / "python", "-m", "pip", "install", "-q", *sorted(dist.glob("*.whl"))], path.parent)
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    assert not tmp_path.is_relative_to(ROOT)
    return tmp_path


def test_sdists_carry_the_version_file_and_every_distribution_has_the_one_version(dist: Path) -> None:
    sdists = sorted(dist.glob("*.tar.gz"))
    wheels = sorted(dist.glob("*.whl"))
    assert len(sdists) == len(wheels) == 3
    for sdist in sdists:
        assert sdist.name.endswith(f"-{VERSION}.tar.gz"), sdist.name
        with tarfile.open(sdist) as archive:
            member = archive.getmember(f"{sdist.name.removesuffix('.tar.gz')}/VERSION")
            assert member.isfile()  # the symlink in the checkout is a plain file here
            version_file = archive.extractfile(member)
            assert version_file is not None
            assert version_file.read().decode().strip() == VERSION
    assert all(f"-{VERSION}-py3-none-any.whl" in wheel.name for wheel in wheels)


def test_installed_packages_report_the_version_from_their_metadata(venv: Path, work: Path) -> None:
    code = (
        "import mtpolicyd_core, mtpolicyd_server, policy_sim;"
        "print(mtpolicyd_core.__version__, mtpolicyd_server.__version__, policy_sim.__version__,"
        " mtpolicyd_core.__file__)"
    )
    versions = run([venv / "bin" / "python", "-c", code], work).stdout.split()
    assert versions[:3] == [VERSION] * 3
    assert Path(versions[3]).is_relative_to(venv)
    assert run([venv / "bin" / "policy-sim", "--version"], work).stdout.strip() == f"policy-sim {VERSION}"


def test_installing_the_server_pulls_core_without_its_extras(venv: Path, work: Path) -> None:
    listed = run([venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"], work).stdout.lower()
    assert "mtpolicyd-core==" in listed and "mtpolicyd-server==" in listed
    for extra_package in ("asyncmy", "redis", "ldap3", "berkeleydb", "pygeoip"):
        assert f"\n{extra_package}==" not in "\n" + listed, extra_package


@pytest.fixture
def daemon(venv: Path, work: Path) -> Iterator[int]:
    """The installed mtpolicyd in the foreground on a free port."""
    port = free_port()
    config = work / "mtpolicyd.conf"
    config.write_text(
        f'port = "{LOCALHOST}:{port}"\nmin_servers = 1\nmin_spare_servers = 1\nmax_spare_servers = 1\n'
        f'max_servers = 2\n<VirtualHost {port}>\n  name = "wheel"\n  <Plugin answer>\n'
        '    module = "Action"\n    action = "reject installed from a wheel"\n  </Plugin>\n</VirtualHost>\n'
    )
    process = subprocess.Popen(
        [venv / "bin" / "mtpolicyd", "-f", "-c", config],
        cwd=work,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def died() -> str | None:
        if process.poll() is None:
            return None
        return f"mtpolicyd exited {process.returncode}: {process.stdout.read() if process.stdout else ''}"

    try:
        wait_until(lambda: tcp_port_open(LOCALHOST, port), 30, f"mtpolicyd on port {port}", died)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def test_installed_mtpolicyd_answers_installed_policy_sim(venv: Path, work: Path, daemon: int) -> None:
    sent = run(
        [venv / "bin" / "policy-sim", "send", "-H", f"{LOCALHOST}:{daemon}", "request=smtpd_access_policy"],
        work,
    )
    assert "reject installed from a wheel" in sent.stdout
    with socket.create_connection((LOCALHOST, daemon), timeout=10) as connection:
        connection.sendall(b"request=smtpd_access_policy\ninstance=x\n\n")
        deadline = time.monotonic() + 10
        answer = b""
        while not answer.endswith(b"\n\n") and time.monotonic() < deadline:
            answer += connection.recv(4096)
    assert answer == b"action=reject installed from a wheel\n\n"


GEOIP_CONFIG = """<VirtualHost 12345>
  name = "geo"
  <Plugin geoip>
    module = "GeoIPLookup"
  </Plugin>
</VirtualHost>
"""


def test_plugin_without_its_extra_gets_the_install_line_and_the_extra_installs(
    dist: Path, tmp_path_factory: pytest.TempPathFactory, work: Path
) -> None:
    path = tmp_path_factory.mktemp("extra") / "venv"  # its own venv: installing the extra changes it
    run([sys.executable, "-m", "venv", path], work)
    core = next(dist.glob("mtpolicyd_core-*.whl"))
    server = next(dist.glob("mtpolicyd_server-*.whl"))
    # the server alone: pip pulls mtpolicyd-core (found next to it) and its dependencies
    run([path / "bin" / "python", "-m", "pip", "install", "-q", "--find-links", dist, server], work)
    listed = run([path / "bin" / "python", "-m", "pip", "list", "--format=freeze"], work).stdout
    assert f"mtpolicyd-core=={VERSION}" in listed.splitlines()
    (work / "geo.conf").write_text(GEOIP_CONFIG)

    refused = run([path / "bin" / "mtpolicyd", "-d", "-c", "geo.conf"], work, check=False)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"mtpolicyd: {work / 'geo.conf'} line 3: plugin geoip (module GeoIPLookup) needs the Python package"
        " pygeoip, which is not installed; install it with: pip install 'mtpolicyd-core[geoip]'"
    )

    run([path / "bin" / "python", "-m", "pip", "install", "-q", f"{core}[geoip]"], work)
    described = run([path / "bin" / "mtpolicyd", "-d", "-c", "geo.conf"], work)
    assert "GeoIPLookup" in described.stdout
