"""MkDocs hooks: stand-in pages for docs that other work adds, and the decision records in the nav."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

#: pages the nav names that may not have arrived yet → what the stand-in says
STAND_INS = {
    "migration.md": "# Migration from the Perl daemon\n\nThis guide is being written. Until then see "
    "[Configuration](configuration.md), [Dialects](dialects.md) and the [Install](install.md) page's "
    "section on the Debian package.\n",
    "performance.md": "# Performance\n\nThe benchmark results are being written up. Run them with "
    "`tox -e bench` (our daemon against the Perl daemon, side by side).\n",
}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the nav's Decisions section with docs/decisions/*.md, in number order."""
    decisions = sorted(Path(config.docs_dir, "decisions").glob("[0-9]*.md"))
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Decisions" in entry:
            entry["Decisions"] = [{_title(path): f"decisions/{path.name}"} for path in decisions]
    return config


def _title(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else path.stem


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """A generated stand-in for each page of STAND_INS that docs/ does not have."""
    for name, text in STAND_INS.items():
        if files.get_file_from_path(name) is None:
            files.append(File.generated(config, name, content=text))
    return files
