"""debian/ checked without building the package: units, source lintian, version, scripts, config.

The package itself is built, linted and installed into a clean Debian 12 chroot by ``tox -e deb``
(integration/deb/).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mtpolicyd_core.config.loader import load_config
from mtpolicyd_core.engine import PolicyEngine

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "debian"
UNITS = sorted((DEBIAN / "systemd").iterdir())
#: what debian/links installs the daemon as
DAEMON = "/usr/sbin/mtpolicyd-py"


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (scripts/install-and-test installs it)")
    return path


def test_package_version_is_the_version() -> None:
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    match = re.fullmatch(r"mtpolicyd-python \((?P<version>[^)]+)\) \S+; urgency=\w+", first)
    assert match is not None, first
    assert match["version"] == (ROOT / "VERSION").read_text().strip()  # native package: no revision


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """In a root holding the host's units, ours, and stand-ins for the programs they start."""
    need("systemd-analyze")
    units = tmp_path / "lib" / "systemd" / "system"
    shutil.copytree("/lib/systemd/system", units, symlinks=True)
    for unit in UNITS:
        shutil.copy(unit, units)
    for program in (DAEMON, "/bin/kill"):
        stand_in = tmp_path / program.lstrip("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    names = [unit.name for unit in UNITS if not unit.name.endswith("@.service")]
    names += [f"mtpolicyd-python-cron@{period}.service" for period in ("hourly", "daily")]
    verified = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={tmp_path}",
            "--man=no",
            *(str(units / name) for name in names),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0 and not (verified.stdout + verified.stderr).strip(), verified.stderr


def unit_settings(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEBIAN / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_service_is_notify_hardened_and_reloads_with_hup() -> None:
    service = unit_settings("mtpolicyd-python.service")
    assert service["Type"] == ["notify"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["ExecStart"][0].startswith(f"{DAEMON} --foreground ")
    assert service["WatchdogSec"] and service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == service["PrivateTmp"] == ["yes"]
    assert service["CapabilityBoundingSet"] == service["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert service["StateDirectory"] == service["RuntimeDirectory"] == ["mtpolicyd-python"]
    assert service["Conflicts"] == ["mtpolicyd.service"]


def test_timers_run_the_hourly_and_daily_tasks() -> None:
    template = unit_settings("mtpolicyd-python-cron@.service")
    assert template["ExecStart"] == [f"{DAEMON} --config ${{MTPOLICYD_CONFIG}} --cron %i"]
    for period in ("hourly", "daily"):
        timer = unit_settings(f"mtpolicyd-python-{period}.timer")
        assert timer["OnCalendar"] == [period]
        assert timer["Unit"] == [f"mtpolicyd-python-cron@{period}.service"]


def test_cron_file_runs_the_same_tasks_only_without_systemd() -> None:
    lines = [
        line
        for line in (DEBIAN / "mtpolicyd-python.cron.d").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert [line.split("--cron ")[1].split(";")[0] for line in lines] == ["hourly", "hourly,daily"]
    for line in lines:
        fields = line.split(None, 6)
        assert fields[5] == "mtpolicyd"
        assert fields[6].startswith("[ -d /run/systemd/system ] || ")
        assert "%" not in line  # cron would turn it into a newline


def test_links_point_the_commands_into_the_environment() -> None:
    links = dict(line.split() for line in (DEBIAN / "links").read_text().splitlines() if line.strip())
    assert links["usr/lib/mtpolicyd-python/bin/mtpolicyd"] == DAEMON.lstrip("/")
    assert links["usr/lib/mtpolicyd-python/bin/policy-sim"] == "usr/bin/policy-sim"


def test_man_pages_listed_for_the_package_exist() -> None:
    for line in (DEBIAN / "manpages").read_text().split():
        assert (ROOT / line).is_file(), line


def test_packaged_configuration_loads() -> None:
    engine = PolicyEngine(load_config(str(DEBIAN / "mtpolicyd.conf")))
    assert engine.config.server.ports == ("127.0.0.1:12345",)
    assert engine.config.server.user == "mtpolicyd"


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm", "rules"])
def test_maintainer_scripts_parse(script: str) -> None:
    path = DEBIAN / script
    if script == "rules":
        need("make")
        checked = subprocess.run(
            ["make", "-n", "-f", str(path), "override_dh_auto_clean"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    else:
        checked = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert path.stat().st_mode & 0o111


def test_source_package_is_lintian_clean(tmp_path: Path) -> None:
    """The source package (control, copyright, changelog, rules, overrides) without errors or warnings."""
    need("lintian")
    need("dpkg-source")
    tree = tmp_path / "mtpolicyd-python"
    tree.mkdir()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name, follow_symlinks=False)
    subprocess.run(["dpkg-source", "-b", tree.name], cwd=tmp_path, capture_output=True, check=True)
    dsc = next(tmp_path.glob("*.dsc"))
    linted = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(dsc)], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


#: programs the units run → the package that provides them (procps: not in a minimal Debian)
PROVIDERS = {DAEMON: "mtpolicyd-python", "/bin/kill": "procps"}


def test_programs_the_units_run_are_installed_with_the_package() -> None:
    control = (DEBIAN / "control").read_text()
    depends = re.search(r"^Depends:(.*?)^\S", control.split("Package: mtpolicyd-python")[1], re.S | re.M)
    assert depends is not None
    declared = {name.strip().split()[0] for name in depends[1].split(",") if name.strip()}
    for unit in UNITS:
        for key, values in unit_settings(unit.name).items():
            for value in values if key.startswith("Exec") else []:
                program = value.split()[0].lstrip("-+!@:")
                assert program in PROVIDERS, (unit.name, program)
                assert PROVIDERS[program] == "mtpolicyd-python" or PROVIDERS[program] in declared, program
