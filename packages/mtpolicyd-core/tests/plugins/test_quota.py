import pytest
from connection_fakes import build, pool_of, sqlite_engine
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

ATTRS = {"client_address": "192.168.0.1", "sender": "s@example.com", "size": "100", "recipient_count": "2"}
DEFER = [PluginResult("defer smtp traffic quota has been exceeded", abort=True)]


@pytest.fixture
def pool(tmp_path, block):
    pool = pool_of(db=("Sql", sqlite_engine(tmp_path / "quota.db")))
    accounting = build(block("acct", module="Accounting", fields="client_address"), pool)
    for _ in range(11):
        accounting.run(Request(ATTRS, None))
    return pool


@pytest.fixture
def quota(block, pool):
    def make(**settings):
        settings.setdefault("field", "client_address")
        settings.setdefault("metric", "count")
        return build(block("quota", module="Quota", **settings), pool)

    return make


def test_quota_fires_when_metric_reaches_threshold(quota):
    assert quota(threshold="12").run(Request(ATTRS, {})) == []
    assert quota(threshold="11").run(Request(ATTRS, {})) == DEFER


def test_quota_metric_selects_the_column(quota):
    assert quota(metric="size_rcpt", threshold="2200").run(Request(ATTRS, {})) == DEFER
    assert quota(metric="size_rcpt", threshold="2201").run(Request(ATTRS, {})) == []


def test_quota_action_is_configurable(quota):
    plugin = quota(threshold="1", action="reject too much")
    assert plugin.run(Request(ATTRS, {})) == [PluginResult("reject too much", abort=True)]


def test_quota_user_config_overrides_threshold(quota):
    plugin = quota(threshold="1000", uc_threshold="my_limit")
    assert plugin.run(Request(ATTRS, {"my_limit": "5"})) == DEFER


def test_quota_unknown_key_counts_as_zero(quota):
    assert quota(threshold="1").run(Request({"client_address": "10.0.0.1"}, {})) == []
    assert quota(threshold="0").run(Request({"client_address": "10.0.0.1"}, {})) == DEFER


def test_quota_empty_field_skips_the_check(quota):
    assert quota(threshold="0").run(Request({"client_address": ""}, {})) == []


def test_quota_disabled(quota):
    assert quota(threshold="0", enabled="off").run(Request(ATTRS, {})) == []


def test_quota_unaccounted_field_fails_the_plugin(quota):
    with pytest.raises(Exception, match="no such table"):
        quota(field="sender", threshold="1").run(Request(ATTRS, {}))
