"""Start-up warnings: root without ``user``, a password in a file every user can read."""

from __future__ import annotations

import os
from pathlib import Path

from mtpolicyd_core.config.loader import load_config
from mtpolicyd_server.startup_checks import startup_warnings

VHOST = """<VirtualHost 12345>
  name = "test"
  <Plugin answer>
    module = "Action"
    action = "dunno"
  </Plugin>
</VirtualHost>
"""
WITH_PASSWORD = (
    """<Connection db>
  module = "Sql"
  dsn = "dbi:mysql:mtpolicyd"
  user = "mtpolicyd"
  password = "secret"
</Connection>
"""
    + VHOST
)


def config_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "mtpolicyd.conf"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_root_without_user_is_warned_about(tmp_path: Path) -> None:
    config = load_config(str(config_file(tmp_path, VHOST, 0o600)))
    [warning] = startup_warnings(config, euid=0)
    assert "running as root without user" in warning
    assert startup_warnings(config, euid=1000) == []
    with_user = load_config(str(config_file(tmp_path, 'user = "nobody"\n' + VHOST, 0o600)))
    assert startup_warnings(with_user, euid=0) == []


def test_password_in_a_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    path = config_file(tmp_path, WITH_PASSWORD, 0o644)
    [warning] = startup_warnings(load_config(str(path)), euid=1000)
    assert f"{path} holds a password (password, line 5) and is readable by every user" in warning
    os.chmod(path, 0o640)
    assert startup_warnings(load_config(str(path)), euid=1000) == []


def test_password_in_a_dsn_or_url_counts_too(tmp_path: Path) -> None:
    text = WITH_PASSWORD.replace('password = "secret"\n', "").replace(
        "dbi:mysql:mtpolicyd", "DBI:mysql:database=m;host=h;password=secret"
    )
    assert len(startup_warnings(load_config(str(config_file(tmp_path, text, 0o644))), euid=1000)) == 1


def test_no_password_no_warning(tmp_path: Path) -> None:
    assert startup_warnings(load_config(str(config_file(tmp_path, VHOST, 0o644))), euid=1000) == []
