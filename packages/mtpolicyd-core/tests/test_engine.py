"""The engine: vhost selection and sessions around the chain (in-process, no sockets)."""

from __future__ import annotations

from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine

TWO_VHOSTS = """
vhost_by_policy_context = 1
port = "127.0.0.1:12345,127.0.0.1:12346"
<VirtualHost 12345>
  name = first
  <Plugin remember>
    module = SetField
    key = seen
    value = yes
  </Plugin>
  <Plugin answer>
    module = Condition
    key = session:seen
    match = yes
    action = reject first saw it
  </Plugin>
</VirtualHost>
<VirtualHost 12346>
  name = second
  <Plugin answer>
    module = Action
    action = reject second
  </Plugin>
</VirtualHost>
"""


def engine() -> PolicyEngine:
    return PolicyEngine(load_config_text(TWO_VHOSTS, "test.conf"))


def test_vhost_is_chosen_by_local_port() -> None:
    policy = engine()
    assert policy.vhost_for(12345, {}).name == "first"  # type: ignore[union-attr]
    assert policy.vhost_for("12346", {}).name == "second"  # type: ignore[union-attr]


def test_port_without_vhost_has_none() -> None:
    assert engine().vhost_for(9999, {}) is None


def test_policy_context_selects_vhost_by_name_when_enabled() -> None:
    assert engine().vhost_for(12345, {"policy_context": "second"}).name == "second"  # type: ignore[union-attr]


def test_unknown_policy_context_falls_back_to_the_port() -> None:
    assert engine().vhost_for(12345, {"policy_context": "other"}).name == "first"  # type: ignore[union-attr]


async def test_without_session_cache_every_request_gets_a_fresh_session_even_without_instance() -> None:
    policy = engine()
    vhost = policy.vhost_for(12345, {})
    assert vhost is not None
    result = await policy.process(vhost, {"request": "smtpd_access_policy"})
    assert result.as_policyd_response() == "action=reject first saw it\n\n"
