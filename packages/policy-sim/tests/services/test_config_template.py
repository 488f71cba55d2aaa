"""Config templates: placeholders, ports, top-level keys and vhost names."""

from __future__ import annotations

from policy_sim.services.config_template import port_numbers, render, top_level_keys, vhost_ports

CONFIG = """\
port="127.0.0.1:4001,127.0.0.1:4002"
<VirtualHost 4001>
  name = "reputation"
  <Plugin a>
    module = "Action"
    name = "not-the-vhost"
  </Plugin>
</VirtualHost>
<VirtualHost "4002">
  name accounting
</VirtualHost>
"""


def test_render_replaces_only_given_names() -> None:
    assert render(r"a={x} re=\d{1,3} b={y}", {"x": 1}) == r"a=1 re=\d{1,3} b={y}"


def test_port_numbers_count_port_as_the_first() -> None:
    assert port_numbers("{port3} {port} {port2} {port1} {portal}") == [1, 2, 3]


def test_top_level_keys_ignore_settings_inside_blocks() -> None:
    assert top_level_keys("user=a\n<Connection x>\n port = 1\n</Connection>\nport=2\n") == {"user", "port"}


def test_vhost_ports_reads_names_and_ports() -> None:
    assert vhost_ports(CONFIG) == {"reputation": 4001, "accounting": 4002}
