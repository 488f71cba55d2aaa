"""policy-sim installed from its wheel into a fresh environment, away from the checkout, still spawns.

Builds the three wheels (``pip wheel --no-deps``), installs them into a new venv, and runs
``policy-sim replay --spawn`` from a directory outside the repository: nothing may come from the
source tree, pytest or the integration fixtures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from policy_sim.generate import GeneratorSettings, generate_document
from policy_sim.trace.writer import write_document

from integration.sim.test_replay_invariants import STAGES, scoring_config

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = ("mtpolicyd-core", "mtpolicyd-server", "policy-sim")


def run(argv: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))
    }
    done = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_installed_wheel_replays_with_spawn_outside_the_checkout(tmp_path: Path) -> None:
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    packages = [tmp_path / "src" / name for name in DISTRIBUTIONS]
    for (
        name
    ) in DISTRIBUTIONS:  # build from a copy: setuptools writes build/ and *.egg-info next to the source
        ignored = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
        shutil.copytree(ROOT / "packages" / name, tmp_path / "src" / name, ignore=ignored)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, *packages], work)
    run([sys.executable, "-m", "venv", venv], work)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", *sorted(wheels.glob("*.whl"))], work)
    found = run([venv / "bin" / "python", "-c", "import policy_sim, sys; print(policy_sim.__file__)"], work)
    assert Path(found.stdout.strip()).is_relative_to(venv) and not work.is_relative_to(ROOT)

    (work / "scoring.conf").write_text(scoring_config("memcached"))
    settings = GeneratorSettings(
        mails=100, seed=4, services={"reputation": "", "accounting": ""}, stages=STAGES
    )
    write_document(generate_document(settings), str(work / "trace.yaml"))
    policy_sim = venv / "bin" / "policy-sim"
    replayed = run(
        [policy_sim, "replay", "trace.yaml", "--spawn", "scoring.conf", "--check", "-c", "8", "-q"], work
    )
    assert replayed.stdout.startswith("OK: 100 mails")
    assert "spawned mtpolicyd as target" in replayed.stderr

    sample = run([policy_sim, "import-maillog", "--sample", "-o", "sample.yaml"], work)
    assert "17 mails" in sample.stderr and (work / "sample.yaml").exists()
