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


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("::ffff:127.0.0.9", "127.0.0.9/32"),
        ("::FFFF:203.0.113.5", "203.0.113.5/32"),
        ("::ffff:cb00:7105", "203.0.113.5/32"),  # the same address spelled in hex
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::ffff:0:0/95", "::fffe:0:0/95"),  # wider than the mapped range: an IPv6 range, left as it is
        ("2001:db8::/32", "2001:db8::/32"),
    ],
)
def test_an_ipv4_mapped_entry_is_stored_as_the_ipv4_range_it_maps(written, stored):
    assert ipallow.normalise([written]) == [stored]


def test_an_ipv4_mapped_entry_and_its_ipv4_spelling_are_one_entry():
    assert ipallow.normalise(["127.0.0.9", "::ffff:127.0.0.9"]) == ["127.0.0.9/32"]


@pytest.mark.parametrize("caller", ["127.0.0.9", "::ffff:127.0.0.9"])
def test_an_ipv4_mapped_entry_written_before_normalising_still_matches(caller):
    # Stored as written by an older version: matched as the IPv4 address it maps.
    assert ipallow.allows(["::ffff:127.0.0.9"], caller)
    assert not ipallow.allows(["::ffff:127.0.0.9"], "127.0.0.10")


def test_a_mapped_entry_is_within_the_ipv4_range_it_falls_in():
    assert ipallow.outside(["::ffff:10.1.2.3"], ["10.0.0.0/8"]) is None
    assert ipallow.outside(["::ffff:11.1.2.3"], ["10.0.0.0/8"]) == "11.1.2.3/32"
