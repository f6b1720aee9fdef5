"""The egress policy (webhooks and URL imports): schemes, userinfo, ports, every refused address class, numeric spellings, DNS."""

from __future__ import annotations

import socket
from collections.abc import Iterable

import pytest

from filegate.egress.policy import (
    RefusedDestination,
    Resolver,
    address_block_reason,
    parse_inet_aton,
    vet_url,
)
from filegate.errors import InvalidParameter


class FakeResolver:
    """Answers every lookup with fixed addresses and records what was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Iterable[str]:
        self.calls.append((host, port))
        return list(self.addresses)


resolver_for = FakeResolver


def no_dns(host: str, port: int) -> Iterable[str]:
    raise AssertionError(f"no resolution expected for {host}")


def refused(url: str, *, allow_insecure_loopback: bool = False, resolver: Resolver = no_dns) -> str:
    with pytest.raises(RefusedDestination) as info:
        vet_url(url, allow_insecure_loopback=allow_insecure_loopback, resolver=resolver)
    return str(info.value.reason)


# --- address classes --------------------------------------------------------------------------------

REFUSED_V4 = {
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "10.0.0.1": "private",
    "10.255.255.255": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "169.254.169.254": "link-local",
    "169.254.0.1": "link-local",
    "100.64.0.1": "shared",
    "100.127.255.254": "shared",
    "192.0.0.8": "IETF",
    "192.0.2.1": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "198.18.0.1": "benchmarking",
    "198.19.255.254": "benchmarking",
    "192.88.99.1": "reserved",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
}

REFUSED_V6 = {
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "febf::1": "link-local",
    "fc00::1": "unique-local",
    "fd00::1": "unique-local",
    "fd00:ec2::254": "unique-local",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "2001:db8::1": "documentation",
    "3fff::1": "documentation",
    "100::1": "discard",
    "2001::1": "Teredo",
    "2001:2::1": "IETF",
    "64:ff9b:1::1": "NAT64",
    "5f00::1": "SRv6",
    "4000::1": "reserved",
    # IPv4 embedded in IPv6
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:169.254.169.254": "IPv4-mapped link-local",
    "::ffff:10.1.2.3": "IPv4-mapped private",
    "::ffff:0.0.0.0": "IPv4-mapped unspecified",
    "::ffff:224.0.0.1": "IPv4-mapped multicast",
    "::127.0.0.1": "IPv4-compatible loopback",
    "::169.254.169.254": "IPv4-compatible link-local",
    "::8.8.8.8": "IPv4-compatible address",
    "2002:7f00:1::1": "6to4 loopback",
    "2002:a9fe:a9fe::1": "6to4 link-local",
    "2002:808:808::1": "6to4 tunnel",
    "64:ff9b::127.0.0.1": "NAT64 loopback",
    "64:ff9b::a9fe:a9fe": "NAT64 link-local",
    "64:ff9b::192.168.0.1": "NAT64 private",
}

ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::200e",
           "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"]  # fmt: skip


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED_V4.items()))
def test_refused_ipv4_literal(address: str, reason: str) -> None:
    assert reason in (address_block_reason(address) or "")
    assert reason in refused(f"https://{address}/hook")


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED_V6.items()))
def test_refused_ipv6_literal(address: str, reason: str) -> None:
    assert reason in (address_block_reason(address) or "")
    assert reason in refused(f"https://[{address}]/hook")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_literals_allowed(address: str) -> None:
    assert address_block_reason(address) is None
    host = f"[{address}]" if ":" in address else address
    target = vet_url(f"https://{host}/hook", resolver=no_dns)
    assert len(target.addresses) == 1


def test_ipv4_mapped_public_is_dialled_as_ipv4() -> None:
    target = vet_url("https://[::ffff:8.8.8.8]:8443/x", resolver=no_dns)
    assert target.addresses == ("8.8.8.8",)
    assert target.host == "8.8.8.8"
    assert target.host_header == "8.8.8.8:8443"


# --- numeric spellings -------------------------------------------------------------------------------

SPELLINGS = {
    "2130706433": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "0X7F000001": "127.0.0.1",
    "0x7f.1": "127.0.0.1",
    "0x7f.0.0.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "0177.1": "127.0.0.1",
    "017700000001": "127.0.0.1",
    "127.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "127.000.000.001": "127.0.0.1",
    "0": "0.0.0.0",
    "2852039166": "169.254.169.254",
    "0xa9fea9fe": "169.254.169.254",
    "0251.0376.0251.0376": "169.254.169.254",
    "169.254.43518": "169.254.169.254",
    "0xa9.0xfe.0xa9.0xfe": "169.254.169.254",
    "10.1": "10.0.0.1",
    "167772161": "10.0.0.1",
    "3232235521": "192.168.0.1",
    "134744072": "8.8.8.8",
}


@pytest.mark.parametrize(("spelling", "address"), sorted(SPELLINGS.items()))
def test_inet_aton_spellings_match_libc(spelling: str, address: str) -> None:
    assert str(parse_inet_aton(spelling)) == address
    assert socket.inet_ntoa(socket.inet_aton(spelling)) == address


@pytest.mark.parametrize("spelling", sorted(s for s, a in SPELLINGS.items() if a != "8.8.8.8"))
def test_numeric_spellings_refused(spelling: str) -> None:
    refused(f"https://{spelling}/")
    refused(f"https://{spelling}./")  # trailing dot: same address to a resolver


def test_numeric_spelling_of_public_address_is_normalized() -> None:
    target = vet_url("https://134744072/x", resolver=no_dns)
    assert target.host == "8.8.8.8"
    assert target.addresses == ("8.8.8.8",)


@pytest.mark.parametrize(
    "host",
    ["08.0.0.1", "0x", "256.0.0.1", "1.2.3.4.5", "4294967296", "1.16777216", "0xg.1", "1..1", "example.123"],
)
def test_invalid_numeric_hosts_refused(host: str) -> None:
    assert parse_inet_aton(host.rstrip(".")) is None or host == "example.123"
    refused(f"https://{host}/")


def test_unicode_digits_fold_to_ipv4() -> None:
    fullwidth = "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11"  # "127.0.0.1", full-width
    assert "loopback" in refused(f"https://{fullwidth}/")


# --- URL shape -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/",
        "ftp://8.8.8.8/",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "javascript:alert(1)",
        "//8.8.8.8/",
        "8.8.8.8/hook",
        "",
    ],
)
def test_non_https_refused(url: str) -> None:
    refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@8.8.8.8/",
        "https://user@8.8.8.8/",
        "https://:pass@8.8.8.8/",
        "https://8.8.8.8@127.0.0.1/",
        "https://evil.example@8.8.8.8/",
        "https://@8.8.8.8/",
    ],
)
def test_userinfo_refused(url: str) -> None:
    assert "credentials" in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8:0/",
        "https://8.8.8.8:65536/",
        "https://8.8.8.8:-1/",
        "https://8.8.8.8:abc/",
        "https://8.8.8.8:/",
        "https://8.8.8.8: 443/",
    ],
)
def test_bad_ports_refused(url: str) -> None:
    refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/a b",
        "https://8.8.8.8/\r\nX-Injected: 1",
        "https://8.8.8.8\\@127.0.0.1/",
        "https://[fe80::1%25eth0]/",
        "https://[::1/",
        "https://exa_mple..com/",
        "https://-bad-.example/",
        "https://" + "a" * 64 + ".example/",
        "https:///nohost",
        "https://8.8.8.8/" + "a" * 2100,
    ],
)
def test_malformed_urls_refused(url: str) -> None:
    refused(url)


def test_target_parts() -> None:
    target = vet_url("HTTPS://Hooks.Example.COM:8443/in/é?x=1&y=ü#frag", resolver=resolver_for("8.8.8.8"))
    assert target.scheme == "https"
    assert target.host == "hooks.example.com"
    assert target.port == 8443
    assert target.path == "/in/%C3%A9?x=1&y=%C3%BC"
    assert target.host_header == "hooks.example.com:8443"
    assert vet_url("https://hooks.example.com", resolver=resolver_for("8.8.8.8")).path == "/"
    assert vet_url("https://hooks.example.com/", resolver=resolver_for("8.8.8.8")).host_header == "hooks.example.com"


def test_unsafe_url_is_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter) as info:
        vet_url("https://127.0.0.1/")
    assert info.value.status == 422
    assert info.value.code == "invalid_parameter"
    assert "loopback" in info.value.message


# --- resolution -----------------------------------------------------------------------------------------


def test_name_resolving_to_private_refused() -> None:
    reason = refused("https://hooks.example.com/", resolver=resolver_for("10.0.0.5"))
    assert "private" in reason and "hooks.example.com resolves to 10.0.0.5" in reason


def test_name_resolving_to_metadata_refused() -> None:
    assert "link-local" in refused("https://meta.example/", resolver=resolver_for("169.254.169.254"))
    assert "unique-local" in refused("https://meta.example/", resolver=resolver_for("fd00:ec2::254"))
    assert "IPv4-mapped" in refused("https://meta.example/", resolver=resolver_for("::ffff:169.254.169.254"))


def test_any_private_address_refuses_the_name() -> None:
    resolver = resolver_for("8.8.8.8", "2606:4700::1", "192.168.1.10")
    assert "private" in refused("https://mixed.example/", resolver=resolver)


def test_public_name_returns_all_checked_addresses() -> None:
    resolver = resolver_for("8.8.8.8", "8.8.4.4", "8.8.8.8", "2001:4860:4860::8888")
    target = vet_url("https://dns.example./hook", resolver=resolver)
    assert target.addresses == ("8.8.8.8", "8.8.4.4", "2001:4860:4860::8888")
    assert target.host == "dns.example"
    assert resolver.calls == [("dns.example", 443)]


def test_resolution_failures_refused() -> None:
    def failing(host: str, port: int) -> Iterable[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert "resolve" in refused("https://nx.example/", resolver=failing)
    assert "resolve" in refused("https://empty.example/", resolver=resolver_for())
    assert "invalid address" in refused("https://odd.example/", resolver=resolver_for("not-an-ip"))


def test_zone_ids_from_the_resolver_are_stripped_and_checked() -> None:
    assert "link-local" in refused("https://ll.example/", resolver=resolver_for("fe80::1%eth0"))


def test_localhost_name_refused_via_resolution() -> None:
    assert "loopback" in refused("https://localhost/", resolver=resolver_for("127.0.0.1", "::1"))


# --- the local-stack flag ---------------------------------------------------------------------------------


def test_http_loopback_only_with_flag() -> None:
    assert "https" in refused("http://127.0.0.1:8080/hook")
    target = vet_url("http://127.0.0.1:8080/hook", allow_insecure_loopback=True)
    assert (target.scheme, target.addresses, target.host_header) == ("http", ("127.0.0.1",), "127.0.0.1:8080")
    assert vet_url("http://[::1]:8080/", allow_insecure_loopback=True).addresses == ("::1",)
    assert vet_url("https://127.0.0.1/", allow_insecure_loopback=True).addresses == ("127.0.0.1",)
    assert vet_url("http://0x7f.1/", allow_insecure_loopback=True).host == "127.0.0.1"
    local = vet_url("http://localhost:9000/", allow_insecure_loopback=True, resolver=resolver_for("127.0.0.1", "::1"))
    assert local.addresses == ("127.0.0.1", "::1")
    assert vet_url("http://[::ffff:127.0.0.1]/", allow_insecure_loopback=True).addresses == ("127.0.0.1",)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://192.168.0.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/",
    ],
)
def test_flag_relaxes_nothing_else(url: str) -> None:
    refused(url, allow_insecure_loopback=True)


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://8.8.8.8/", ()),
        ("http://example.com/", ("93.184.215.14",)),
        ("http://[2606:4700::1111]:8080/", ()),
        ("http://both.example/", ("127.0.0.1", "8.8.8.8")),  # one public address is enough to refuse
    ],
)
def test_flag_allows_plain_http_to_loopback_only(url: str, addresses: tuple[str, ...]) -> None:
    # The local stack's switch: http reaches its loopback receivers, never a public host (https only there).
    assert "loopback" in refused(url, allow_insecure_loopback=True, resolver=resolver_for(*addresses))
    https = url.replace("http://", "https://")
    assert vet_url(https, allow_insecure_loopback=True, resolver=resolver_for(*addresses)).scheme == "https"


def test_flag_refuses_names_that_resolve_to_private() -> None:
    resolver = resolver_for("127.0.0.1", "10.0.0.1")
    assert "private" in refused("http://mixed.local/", allow_insecure_loopback=True, resolver=resolver)


def test_test_runs_resolve_localhost_only() -> None:
    from filegate.egress.policy import loopback_only_resolver, resolver_for
    from filegate.settings import EgressPolicy

    assert resolver_for(EgressPolicy()) is None  # the system's resolver, in AWS
    assert resolver_for(EgressPolicy(egress_resolve_loopback_only=True)) is loopback_only_resolver
    assert vet_url("http://localhost:9000/", allow_insecure_loopback=True, resolver=loopback_only_resolver).addresses
    assert "does not resolve" in refused("https://files.example/x", resolver=loopback_only_resolver)


def test_privileged_ports_are_refused_except_loopback_under_the_local_allowance() -> None:
    assert "ports below 1024" in refused("https://8.8.8.8:25/")
    assert "ports below 1024" in refused("https://mail.example:22/")  # refused before any resolution
    assert vet_url("https://8.8.8.8:8443/").port == 8443
    assert vet_url("http://127.0.0.1:9/hook", allow_insecure_loopback=True).port == 9
    local = resolver_for("127.0.0.1")
    assert vet_url("http://localhost:9/", allow_insecure_loopback=True, resolver=local).port == 9
    public = resolver_for("8.8.8.8")
    assert "ports below 1024" in refused("http://smtp.example:25/", allow_insecure_loopback=True, resolver=public)
