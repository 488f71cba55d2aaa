"""Write a trace document (plain dicts and lists) as YAML, or JSON for ``.json`` paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

try:
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # PyYAML without libyaml
    _Dumper = yaml.SafeDumper


def dump_document(document: dict[str, Any], as_json: bool = False) -> str:
    """The document as trace text (YAML keeps key order; short lists stay on one line)."""
    if as_json:
        return json.dumps(document, indent=1) + "\n"
    text: str = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
    )
    return text


def write_document(document: dict[str, Any], path: str | None, header: str = "") -> None:
    """Write to ``path`` (``-`` or None: standard output); JSON when the path ends in ``.json``."""
    as_json = bool(path and path.endswith(".json"))
    text = dump_document(document, as_json)
    if header and not as_json:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
