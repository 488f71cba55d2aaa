"""Start-up checks after dropping privileges: a file a plugin names that the serving user cannot read
ends the start with the file and line, instead of failing every request later."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.fixtures.daemons import python_mtpolicyd_argv

CONFIG = """user = "nobody"
group = "nogroup"
pid_file = "{pid_file}"
port = "127.0.0.1:{port}"
<VirtualHost {port}>
  name = "geo"
  <Plugin country>
    module = "GeoIPLookup"
    database = "{database}"
  </Plugin>
</VirtualHost>
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_a_file_the_serving_user_cannot_read_stops_the_start_naming_file_and_line(
    tmp_path: Path, free_port: Callable[..., int]
) -> None:
    home = tmp_path / "home"  # like a venv under a 0700 home directory
    home.mkdir(mode=0o700)
    database = home / "GeoIP.dat"
    database.write_bytes(b"\0" * 64)
    config = tmp_path / "mtpolicyd.conf"
    config.write_text(CONFIG.format(pid_file=tmp_path / "pid", port=free_port(), database=database))
    result = subprocess.run(
        [*python_mtpolicyd_argv(), "-f", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    problem = "cannot be read by user nobody: Permission denied"
    expected = f"{config} line 9: plugin country: database {database} {problem}"
    assert expected in result.stdout + result.stderr
