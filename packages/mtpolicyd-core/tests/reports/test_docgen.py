from pathlib import Path

import pytest
from mtpolicyd_core.plugins.action import Action
from mtpolicyd_core.plugins.score_action import ScoreAction
from mtpolicyd_core.reports.docgen import (
    COMMAND,
    load_plugins,
    main,
    render,
    render_connections,
    render_section,
    sections,
)

DOCS = Path(__file__).resolve().parents[4] / "docs" / "plugins.md"
CONNECTION_DOCS = DOCS.with_name("connections.md")
AVAILABLE = {name: plugin for name, plugin in load_plugins().items() if not isinstance(plugin, str)}


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_plugin_reference_is_up_to_date(name: str) -> None:
    written = sections(DOCS.read_text(encoding="utf-8"))
    assert written.get(name) == render_section(name, AVAILABLE[name]), f"regenerate with: {COMMAND}"


def test_section_lists_doc_roles_and_options() -> None:
    section = render_section("ScoreAction", ScoreAction)
    assert "Roles: Scoring, NestedChain" in section
    assert "| threshold | Num |  | yes | yes | the score at which the plugin fires |" in section
    assert "| match | Str | `gt` |  |  |" in section


def test_plugin_that_does_not_import_is_listed_as_not_available() -> None:
    text = render({"Action": Action, "Broken": "ImportError: no module named dns"})
    assert sections(text)["Broken"] == (
        "## Broken\n\nNot available: the plugin could not be loaded (ImportError: no module named dns).\n"
    )
    assert sections(text)["Action"] == render_section("Action", Action)


def test_main_writes_the_reference(tmp_path: Path) -> None:
    target = tmp_path / "plugins.md"
    assert main([str(target)]) == 0
    assert set(sections(target.read_text(encoding="utf-8"))) == set(load_plugins())


def test_connection_reference_is_up_to_date() -> None:
    assert CONNECTION_DOCS.read_text(encoding="utf-8") == render_connections(), f"regenerate with: {COMMAND}"


def test_connection_reference_lists_each_module_with_its_declared_options() -> None:
    text = render_connections()
    assert "## Redis" in text and "## Sql" in text
    assert "| failover_timeout | Num | `2` |" in text
    assert "| cluster | Maybe[Str] |  | ours:" in text
