"""An installed policy-sim needs neither pytest, the repository's test tree nor testcontainers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULES = [
    "policy_sim.cli",
    "policy_sim.spawn",
    "policy_sim.services.containers",
    "policy_sim.services.daemons",
    "policy_sim.services.mariadb",
    "policy_sim.services.memcached",
    "policy_sim.services.rbldnsd",
    "policy_sim.services.redis",
]


def test_importing_every_module_loads_no_test_or_container_package(tmp_path: Path) -> None:
    code = (
        f"import sys\nfor name in {MODULES!r}:\n    __import__(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pytest', '_pytest', 'integration', 'testcontainers', 'docker', 'pymysql'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
