"""metrics_address and health_address: off by default, [host:]port, metrics only with prometheus-client."""

from __future__ import annotations

import importlib.util

import pytest
from mtpolicyd_core.config.http_endpoints import METRICS_INSTALL_COMMAND, parse_http_address
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.errors import ConfigError

VHOST = """<VirtualHost 12345>
  name = "v"
  <Plugin a>
    module = "Action"
    action = "dunno"
  </Plugin>
</VirtualHost>
"""


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:9120", ("127.0.0.1", 9120)),
        ("9120", ("127.0.0.1", 9120)),
        ("[::1]:9120", ("::1", 9120)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        (" localhost:9 ", ("localhost", 9)),
    ],
)
def test_http_address_is_host_and_port_a_bare_port_on_loopback(text: str, address: tuple[str, int]) -> None:
    assert parse_http_address(text) == address


@pytest.mark.parametrize("text", ["", "host:", "host:port", "127.0.0.1:0", "127.0.0.1:65536"])
def test_bad_http_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_http_address(text)


def test_endpoints_are_off_by_default() -> None:
    server = load_config_text(VHOST).server
    assert (server.metrics_address, server.health_address) == (None, None)


def test_endpoints_are_read_from_the_globals() -> None:
    pytest.importorskip("prometheus_client")
    server = load_config_text("metrics_address = 127.0.0.1:9120\nhealth_address = 9121\n" + VHOST).server
    assert (server.metrics_address, server.health_address) == ("127.0.0.1:9120", "9121")


def test_bad_endpoint_address_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"line 2: health_address: 'x:99999': the port number must be"):
        load_config_text("# endpoints\nhealth_address = x:99999\n" + VHOST)


def test_metrics_without_prometheus_client_fail_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "prometheus_client" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError) as failure:
        load_config_text("metrics_address = 9120\n" + VHOST)
    assert str(failure.value) == (
        "<string> line 1: metrics_address needs the Python package prometheus_client, which is not"
        f" installed; install it with: {METRICS_INSTALL_COMMAND}"
    )
    assert METRICS_INSTALL_COMMAND == "pip install 'mtpolicyd-server[metrics]'"
    # health alone needs no library
    assert load_config_text("health_address = 9121\n" + VHOST).server.health_address == "9121"
