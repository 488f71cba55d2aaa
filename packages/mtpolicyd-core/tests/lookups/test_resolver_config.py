"""Resolver settings: resolv.conf as the C library reads it, RES_* as Net::DNS reads them."""

from pathlib import Path

import pytest
from mtpolicyd_core.lookups.resolver_config import ResolverConfig

MISSING = Path("/nonexistent/resolv.conf")


@pytest.fixture
def resolv_conf(tmp_path: Path) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(
        "# a comment\n"
        "; another\n"
        "search example.org\n"
        "nameserver 192.0.2.53\n"
        "nameserver not-an-address\n"
        "nameserver 2001:db8::53\n"
        "options ndots:2 timeout:3 attempts:4 rotate\n"
    )
    return path


def test_without_resolv_conf_the_c_library_default_applies() -> None:
    config = ResolverConfig.from_system({}, MISSING)
    assert (config.nameservers, config.port, config.try_timeout, config.attempts, config.rotate) == (
        ("127.0.0.1",), 53, 1.0, 2, False,
    )  # fmt: skip
    assert config.lifetime == 2.0


def test_resolv_conf_gives_nameservers_and_options(resolv_conf: Path) -> None:
    config = ResolverConfig.from_system({}, resolv_conf)
    assert config.nameservers == ("192.0.2.53", "2001:db8::53")
    assert (config.try_timeout, config.attempts, config.rotate, config.lifetime) == (3.0, 4, True, 12.0)


def test_environment_overrides_resolv_conf(resolv_conf: Path) -> None:
    env = {"RES_NAMESERVERS": "127.0.0.9 127.0.0.8", "RES_OPTIONS": "port:5353 retrans:2 retry:1"}
    config = ResolverConfig.from_system(env, resolv_conf)
    assert config.nameservers == ("127.0.0.9", "127.0.0.8")
    assert (config.port, config.try_timeout, config.attempts, config.rotate) == (5353, 2.0, 1, True)


def test_resolv_conf_without_nameserver_means_localhost(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("options rotate\n")
    assert ResolverConfig.from_system({}, path).nameservers == ("127.0.0.1",)


def test_odd_option_values_are_ignored_and_zero_attempts_mean_one() -> None:
    env = {"RES_NAMESERVERS": "127.0.0.9", "RES_OPTIONS": "timeout:x port:0 timeout:0 attempts:0 debug"}
    config = ResolverConfig.from_system(env, MISSING)
    assert (config.port, config.try_timeout, config.attempts) == (53, 1.0, 1)


@pytest.mark.parametrize(
    ("options", "port", "try_timeout", "lifetime"),
    [
        ("", 53, 1.0, 2.0),  # our bounded defaults: 1 s per try, 2 tries
        ("port:5353", 5353, 1.0, 2.0),
        ("timeout:3 attempts:2", 53, 3.0, 6.0),
        ("retrans:4 retry:3", 53, 4.0, 12.0),  # Net::DNS's own spellings
        ("attempts:0", 53, 1.0, 1.0),
        ("timeout:x", 53, 1.0, 2.0),
    ],
)
def test_res_options_set_port_and_timeouts_as_net_dns_reads_them(
    options: str, port: int, try_timeout: float, lifetime: float
) -> None:
    env = {"RES_NAMESERVERS": "127.0.0.9 127.0.0.8", "RES_OPTIONS": options}
    config = ResolverConfig.from_system(env, MISSING)
    assert config.nameservers == ("127.0.0.9", "127.0.0.8")
    assert (config.port, config.try_timeout, config.lifetime) == (port, try_timeout, lifetime)


def test_cache_settings_pass_through() -> None:
    config = ResolverConfig.from_system({}, MISSING, cache_size=50, max_cache_ttl=600)
    assert (config.cache_size, config.max_cache_ttl) == (50, 600)


def test_describe_names_servers_timeouts_and_cache() -> None:
    config = ResolverConfig(("127.0.0.1", "::1"), 5353, 1.0, 2, True, 100, 3600)
    assert config.describe() == (
        "DNS: nameservers 127.0.0.1 ::1 port 5353, 1 s per try, 2 attempts, rotate; "
        "cache 100 entries, max TTL 3600 s"
    )
    assert ResolverConfig(cache_size=0).describe().endswith("; no cache")


@pytest.mark.parametrize("settings", [{"nameservers": ()}, {"try_timeout": 0}, {"attempts": 0}])
def test_impossible_settings_are_refused(settings: dict[str, int] | dict[str, tuple[()]]) -> None:
    with pytest.raises(ValueError):
        ResolverConfig(**settings)
