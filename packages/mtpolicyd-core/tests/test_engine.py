"""The engine: vhost selection and sessions around the chain (in-process, no sockets)."""

from __future__ import annotations

import asyncio

from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_core.lookups.resolver import DnsAnswer

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


def vhost_name(policy: PolicyEngine, port: int | str, attributes: dict[str, str]) -> str | None:
    """The name of the vhost a request on ``port`` goes to; None without one."""
    vhost = policy.vhost_for(port, attributes)
    return None if vhost is None else vhost.name


def test_vhost_is_chosen_by_local_port() -> None:
    policy = engine()
    assert vhost_name(policy, 12345, {}) == "first"
    assert vhost_name(policy, "12346", {}) == "second"


def test_port_without_vhost_has_none() -> None:
    assert engine().vhost_for(9999, {}) is None


def test_policy_context_selects_vhost_by_name_when_enabled() -> None:
    assert vhost_name(engine(), 12345, {"policy_context": "second"}) == "second"


def test_unknown_policy_context_falls_back_to_the_port() -> None:
    assert vhost_name(engine(), 12345, {"policy_context": "other"}) == "first"


async def test_without_session_cache_every_request_gets_a_fresh_session_even_without_instance() -> None:
    policy = engine()
    vhost = policy.vhost_for(12345, {})
    assert vhost is not None
    result = await policy.process(vhost, {"request": "smtpd_access_policy"})
    assert result.as_policyd_response() == "action=reject first saw it\n\n"


FOUR_LISTS = """
<VirtualHost 12345>
  name = lists
  parallel_dns = {parallel}
  <Plugin one>
    module = RBL
    domain = one.test
    mode = passive
  </Plugin>
  <Plugin two>
    module = RBL
    domain = two.test
    mode = passive
  </Plugin>
  <Plugin under-condition>
    module = Condition
    key = client_address
    match = 192.0.2.1
    <Plugin three>
      module = RBL
      domain = three.test
      mode = passive
    </Plugin>
  </Plugin>
  <Plugin four>
    module = DBL
    domain = four.test
  </Plugin>
</VirtualHost>
"""
REQUEST = {
    "instance": "m1",
    "client_address": "192.0.2.1",
    "sender": "a@spam.example",
    "reverse_client_name": "unknown",
    "helo_name": "mx.example",
}


class GateResolver:
    """Answers nothing listed, but holds every query until ``release`` is set; counts what is in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.names: list[str] = []
        self.release = asyncio.Event()

    async def query(self, name: str, rdtype: int) -> DnsAnswer:
        self.names.append(name)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return DnsAnswer(name, rdtype, 3, ())

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_parallel_dns_starts_every_look_up_of_the_chain_as_the_request_arrives() -> None:
    resolver = GateResolver()
    policy = PolicyEngine(load_config_text(FOUR_LISTS.format(parallel="on")), dns=resolver)  # type: ignore[arg-type]
    answer = asyncio.ensure_future(policy.process(policy.vhosts[0], REQUEST))
    async with asyncio.timeout(10):
        while resolver.in_flight < 5:  # 3 RBL zones (one nested) and 2 DBL names, all at once
            await asyncio.sleep(0)
    resolver.release.set()
    assert (await answer).as_policyd_response() == "action=dunno\n\n"
    assert resolver.most_in_flight == 5


async def test_without_parallel_dns_look_ups_run_one_after_another_and_query_the_same_names() -> None:
    names = {}
    for parallel in ("off", "on"):
        resolver = GateResolver()
        resolver.release.set()
        policy = PolicyEngine(load_config_text(FOUR_LISTS.format(parallel=parallel)), dns=resolver)  # type: ignore[arg-type]
        await policy.process(policy.vhosts[0], REQUEST)
        names[parallel] = sorted(resolver.names)
        if parallel == "off":
            assert resolver.most_in_flight == 1
    assert names["on"] == names["off"]
