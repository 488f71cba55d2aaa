"""The docs site builds with warnings as errors and its plugin reference names every plugin and option.

Needs MkDocs (``tox -e docs`` installs it); skipped elsewhere.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mtpolicyd_core.options import declared_options
from mtpolicyd_core.reports.docgen import load_plugins

pytest.importorskip("mkdocs", reason="MkDocs is installed by tox -e docs")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr
    return path


def plugin_sections(page: str) -> dict[str, str]:
    """The HTML of each plugin's section by its heading's id."""
    parts = re.split(r'<h2 id="([^"]+)"', page)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_plugin_reference_page_names_every_plugin_and_option(site: Path) -> None:
    sections = plugin_sections((site / "plugins" / "index.html").read_text(encoding="utf-8"))
    plugins = load_plugins()
    assert len(plugins) >= 29
    for name, plugin in plugins.items():
        assert not isinstance(plugin, str), f"{name}: {plugin}"
        section = sections[name.lower()]
        for option in declared_options(plugin):
            assert f"<td>{html.escape(option.name)}</td>" in section, (name, option.name)


def test_every_page_of_docs_is_built(site: Path) -> None:
    for source in (ROOT / "docs").rglob("*.md"):
        relative = source.relative_to(ROOT / "docs").with_suffix("")
        built = site / ("index.html" if relative.name == "index" else relative / "index.html")
        assert built.is_file(), source


def test_pages_other_work_brings_are_in_the_site(site: Path) -> None:
    for page in ("migration", "performance"):
        assert (site / page / "index.html").is_file()
    decisions = sorted((ROOT / "docs" / "decisions").glob("[0-9]*.md"))
    navigation = (site / "index.html").read_text(encoding="utf-8")
    for decision in decisions:
        assert f"decisions/{decision.stem}/" in navigation, decision.name
