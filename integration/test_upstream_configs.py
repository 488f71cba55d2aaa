"""Upstream's example configs load in our daemon (``mtpolicyd -d``); bad ones exit 2 naming file and line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mtpolicyd_core.config.parser import parse_config_file
from mtpolicyd_core.config.tree import Block

from integration.fixtures.daemons import python_mtpolicyd_argv

UPSTREAM = Path(__file__).parent / "configs" / "upstream"
#: values for the Template Toolkit placeholders of upstream's t-data files
TEMPLATE_VALUES = {"[% port %]": "12345", "[% memcached_port %]": "11211"}


def run_describe(config: Path) -> subprocess.CompletedProcess[str]:
    """``mtpolicyd -d -c CONFIG`` as a separate process."""
    return subprocess.run(
        [*python_mtpolicyd_argv(), "-d", "-c", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def rendered(name: str, workdir: Path) -> Path:
    """The upstream file with its template placeholders filled in.

    The 1.17 example leaves ``db_dsn=`` empty although its Greylist plugin needs SQL;
    Perl 1.17 refuses it at start-up just as we do, so the test gives it a SQLite file.
    """
    text = (UPSTREAM / name).read_text()
    for placeholder, value in TEMPLATE_VALUES.items():
        text = text.replace(placeholder, value)
    text = text.replace("\ndb_dsn=\n", f"\ndb_dsn=dbi:SQLite:dbname={workdir / 'mtpolicyd.sqlite'}\n")
    path = workdir / name
    path.write_text(text)
    return path


def plugin_names(block: Block) -> list[str]:
    """Every ``<Plugin NAME>`` at any depth, in file order."""
    names = []
    for plugin in block.blocks("Plugin"):
        names.append(plugin.name or "")
        names += plugin_names(plugin)
    return names


@pytest.mark.parametrize("name", sorted(path.name for path in UPSTREAM.glob("*.conf")))
def test_upstream_config_is_described_with_every_vhost_and_plugin(name: str, tmp_path: Path) -> None:
    config = rendered(name, tmp_path)
    result = run_describe(config)
    assert result.returncode == 0, result.stderr
    assert "could not" not in result.stderr
    for vhost in parse_config_file(str(config)).blocks("VirtualHost"):
        assert f"<VirtualHost {vhost.name}>" in result.stdout
        assert f'name = "{vhost.get("name")}"' in result.stdout
        for plugin in plugin_names(vhost):
            assert f"<Plugin {plugin}>" in result.stdout


VHOST = '<VirtualHost 12345>\n  name = "test"\n'
PLUGIN = '  <Plugin x>\n    module = "Action"\n    action = "reject"\n  </Plugin>\n'

#: config text, and the line the error must name
BAD_CONFIGS = {
    "unknown module": (VHOST + PLUGIN.replace('"Action"', '"NoSuchPlugin"') + "</VirtualHost>\n", 3),
    "missing module": (VHOST + PLUGIN.replace('    module = "Action"\n', "") + "</VirtualHost>\n", 3),
    "unterminated block": (VHOST + PLUGIN, 1),
    "wrong closing tag": (VHOST + PLUGIN.replace("  </Plugin>", "</VirtualHost>"), 6),
    "duplicate option": ("log_level = 2\nlog_level = 3\n" + VHOST + PLUGIN + "</VirtualHost>\n", 2),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_naming_file_and_line(case: str, tmp_path: Path) -> None:
    text, line = BAD_CONFIGS[case]
    config = tmp_path / "bad.conf"
    config.write_text(text)
    result = run_describe(config)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{config} line {line}" in result.stderr
