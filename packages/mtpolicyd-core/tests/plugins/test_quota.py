import pytest
from chain_answer import answer
from connection_fakes import build, pool_of, sqlite_engine
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

ATTRS = {"client_address": "192.168.0.1", "sender": "s@example.com", "size": "100", "recipient_count": "2"}
DEFER = [PluginResult("defer smtp traffic quota has been exceeded", abort=True)]


@pytest.fixture
async def pool(tmp_path, block):
    pool = pool_of(db=("Sql", sqlite_engine(tmp_path / "quota.db")))
    accounting = await build(block("acct", module="Accounting", fields="client_address"), pool)
    for _ in range(11):
        await accounting.run(Request(ATTRS, None))
    return pool


@pytest.fixture
def quota(block, pool):
    async def make(**settings):
        settings.setdefault("field", "client_address")
        settings.setdefault("metric", "count")
        return await build(block("quota", module="Quota", **settings), pool)

    return make


async def test_quota_fires_when_metric_reaches_threshold(quota):
    assert await (await quota(threshold="12")).run(Request(ATTRS, {})) == []
    assert await (await quota(threshold="11")).run(Request(ATTRS, {})) == DEFER


async def test_quota_metric_selects_the_column(quota):
    assert await (await quota(metric="size_rcpt", threshold="2200")).run(Request(ATTRS, {})) == DEFER
    assert await (await quota(metric="size_rcpt", threshold="2201")).run(Request(ATTRS, {})) == []


async def test_quota_action_is_configurable(quota):
    plugin = await quota(threshold="1", action="reject too much")
    assert await plugin.run(Request(ATTRS, {})) == [PluginResult("reject too much", abort=True)]


async def test_quota_user_config_overrides_threshold(quota):
    plugin = await quota(threshold="1000", uc_threshold="my_limit")
    assert await plugin.run(Request(ATTRS, {"my_limit": "5"})) == DEFER


async def test_quota_unknown_key_counts_as_zero(quota):
    assert await (await quota(threshold="1")).run(Request({"client_address": "10.0.0.1"}, {})) == []
    assert await (await quota(threshold="0")).run(Request({"client_address": "10.0.0.1"}, {})) == DEFER


async def test_quota_empty_field_skips_the_check(quota):
    assert await (await quota(threshold="0")).run(Request({"client_address": ""}, {})) == []


async def test_quota_disabled(quota):
    assert await answer((await quota(threshold="0", enabled="off")), Request(ATTRS, {})) == []


async def test_quota_unaccounted_field_fails_the_plugin(quota):
    with pytest.raises(Exception, match="no such table"):
        await (await quota(field="sender", threshold="1")).run(Request(ATTRS, {}))
