import pytest

from filegate.keys import ipallow


def test_empty_allowlist_allows_everyone():
    assert ipallow.allows([], "203.0.113.9")


@pytest.mark.parametrize(
    ("entries", "ip", "expected"),
    [
        (["203.0.113.7"], "203.0.113.7", True),
        (["203.0.113.7"], "203.0.113.8", False),
        (["10.0.0.0/8"], "10.200.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["2001:db8::/32"], "2001:db8:ffff::1", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["2001:db8::1"], "2001:DB8:0:0:0:0:0:1", True),
        (["::/0"], "203.0.113.7", False),  # an IPv6 range never matches an IPv4 caller
        (["0.0.0.0/0"], "2001:db8::1", False),
        (["203.0.113.0/24"], "::ffff:203.0.113.5", True),  # IPv4-mapped caller matched as IPv4
        (["203.0.113.0/24"], "not-an-ip", False),
        (["203.0.113.0/24"], "", False),
        (["fe80::/10", "192.168.0.0/16"], "fe80::1", True),
    ],
)
def test_matching(entries, ip, expected):
    assert ipallow.allows(entries, ip) is expected


def test_normalise_canonicalises_and_dedupes():
    assert ipallow.normalise(["10.1.2.3/8", "10.0.0.0/8", "2001:DB8::/32"]) == ["10.0.0.0/8", "2001:db8::/32"]


@pytest.mark.parametrize("bad", ["", "10.0.0.0/33", "300.1.1.1", "example.com", "2001:db8::/129"])
def test_normalise_rejects_garbage(bad):
    with pytest.raises(ValueError):
        ipallow.normalise([bad])
