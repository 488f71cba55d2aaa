import pytest
from mtpolicyd_core.perl.address_list import AddressList


@pytest.mark.parametrize(
    "ip", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "192.0.2.9", "2001:db8::5"]
)
def test_localhost_and_listed_networks_are_contained(ip: str) -> None:
    assert AddressList("192.0.2.0/24 2001:db8::/32").contains(ip)


@pytest.mark.parametrize("ip", ["192.0.3.1", "2001:db9::1", "garbage", ""])
def test_other_addresses_are_not_contained(ip: str) -> None:
    assert not AddressList("192.0.2.0/24,2001:db8::/32").contains(ip)


def test_invalid_network_is_rejected() -> None:
    with pytest.raises(ValueError):
        AddressList("192.0.2.0/33")
