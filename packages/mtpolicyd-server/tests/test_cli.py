"""The ``mtpolicyd`` command without running the daemon: config checks, -d, -t, --default-config."""

from __future__ import annotations

from pathlib import Path

import pytest
from mtpolicyd_server.cli import main, parse_args
from mtpolicyd_server.default_config import default_config_path

CONFIG = """<VirtualHost 12345>
  name = "test"
  <Plugin answer>
    module = "Action"
    action = "reject go away"
  </Plugin>
</VirtualHost>
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mtpolicyd.conf"
    path.write_text(text)
    return str(path)


def test_missing_config_file_exits_1_like_the_original(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.conf"
    assert main(["-c", str(missing)]) == 1
    assert f"configuration file {missing} does not exist!" in capsys.readouterr().err


def test_bad_config_exits_2_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, CONFIG.replace('"Action"', '"NoSuchPlugin"'))
    assert main(["-c", path, "-d"]) == 2
    assert f"{path} line 3" in capsys.readouterr().err


def test_dump_vhosts_prints_vhosts_and_plugins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", write(tmp_path, CONFIG), "--dump_vhosts"]) == 0
    out = capsys.readouterr().out
    assert "<VirtualHost 12345>" in out
    assert "<Plugin answer>" in out


def test_dump_names_the_dialect_and_its_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", write(tmp_path, "memcached_servers = 127.0.0.1:11211\n" + CONFIG), "-d"]) == 0
    assert "# dialect 1.x: memcached_servers at line 1\n" in capsys.readouterr().out


def test_dialect_option_forces_the_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, "memcached_servers = 127.0.0.1:11211\n" + CONFIG)
    assert main(["-c", config, "-d", "--dialect", "2"]) == 0
    out = capsys.readouterr().out
    assert "# dialect 2.x: --dialect 2 on the command line\n" in out
    assert "1.x global memcached_servers ignored in a 2.x config" in out


def test_dialect_option_takes_only_1_or_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["-c", write(tmp_path, CONFIG), "--dialect", "3"])


def test_cron_runs_the_plugins_tasks_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", write(tmp_path, CONFIG), "-l", "3", "-t", "hourly, daily"]) == 0
    assert "running cron for plugin answer" in capsys.readouterr().out


def test_default_config_option_uses_the_packaged_file() -> None:
    args = parse_args(["--default-config"])
    assert args.config == default_config_path()
    assert Path(args.config).is_file()


def test_packaged_default_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--default-config", "-d"]) == 0
    out = capsys.readouterr().out
    assert "<VirtualHost 12345>" in out
    assert "# 0 warning(s)" in out


def test_loglevel_outside_0_to_4_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["-l", "7"])


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version  # noqa: PLC0415

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"mtpolicyd {version('mtpolicyd-server')}\n"


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_args(["-c", "mtpolicyd.conf"]).config == str(tmp_path / "mtpolicyd.conf")
