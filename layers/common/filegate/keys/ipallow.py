"""IP allowlists: IPv4/IPv6 addresses and CIDR ranges, matched against the caller's source IP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_ENTRIES = 100


IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_entry(entry: str) -> IPNetwork:
    """One allowlist entry (``203.0.113.7``, ``10.0.0.0/8``, ``2001:db8::/32``). Raises ValueError.

    An IPv4-mapped entry (``::ffff:203.0.113.5``, ``::ffff:10.0.0.0/104``) is the IPv4 range it maps: source
    addresses are matched as IPv4, so as IPv6 it would never match anything."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError("empty entry")
    network = ipaddress.ip_network(entry.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None  # inside ::ffff:0:0/96
        return ipaddress.IPv4Network((mapped, network.prefixlen - IPV4_MAPPED.prefixlen))
    return network


def normalise(entries: Iterable[str]) -> list[str]:
    """Validated, canonical, deduplicated entries. Raises ValueError naming the bad one."""
    seen: list[str] = []
    for entry in entries:
        try:
            canonical = str(parse_entry(entry))
        except ValueError as exc:
            raise ValueError(f"not an IP address or CIDR range: {entry!r}") from exc
        if canonical not in seen:
            seen.append(canonical)
    if len(seen) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries")
    return seen


def _address(source_ip: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except (ValueError, AttributeError):
        return None
    # A dual-stack listener may report an IPv4 caller as ::ffff:a.b.c.d; match it as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def allows(entries: Iterable[str], source_ip: str | None) -> bool:
    """An empty allowlist allows everyone; otherwise the source IP must fall in one entry."""
    networks = [parse_entry(e) for e in entries]
    if not networks:
        return True
    address = _address(source_ip or "")
    if address is None:
        return False
    return any(address.version == net.version and address in net for net in networks)


def outside(entries: Iterable[str], within_entries: Iterable[str]) -> str | None:
    """The first of ``entries`` not inside ``within_entries`` (an empty list of either means any address).

    None when every address ``entries`` allows is also allowed by ``within_entries``."""
    bounds = [parse_entry(e) for e in within_entries]
    if not bounds:
        return None
    wanted = [parse_entry(e) for e in entries]
    if not wanted:
        return "any address"
    for network in wanted:
        if not any(network.version == b.version and network.subnet_of(b) for b in bounds):  # type: ignore[arg-type]
            return str(network)
    return None
