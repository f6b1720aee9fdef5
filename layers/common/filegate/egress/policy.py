"""The egress policy (docs/api.md §5, docs/architecture.md "one egress guard"): which URLs FileGate will call, and at
which addresses. Webhook deliveries and URL imports both go through it, and only through it.

``vet_url`` parses the URL, resolves the host (all addresses) and refuses it if ANY address is not a public
unicast address. It returns the addresses it checked; ``egress.connection`` connects to one of exactly
those, so a DNS answer that changes between the check and the connection (DNS rebinding) cannot steer the
request. Callers check at request time (registration, import request) and again before every connection.

Numeric hosts are read the way ``inet_aton``/``getaddrinfo`` read them (``2130706433``, ``0x7f.1``,
``0177.0.0.1``, ``127.1``), so no spelling of an address slips past as a "name". Following the WHATWG URL
rule, a host whose last label is a number must be a valid IPv4 address, else it is refused.

IPv6 forms that embed an IPv4 address are judged by that address (IPv4-mapped ``::ffff:0:0/96``, NAT64
``64:ff9b::/96``); the deprecated tunnel forms (IPv4-compatible ``::/96``, 6to4 ``2002::/16``, Teredo
``2001::/32``) are refused outright. Every other IPv6 address must be global unicast (``2000::/3``) and
outside the special ranges below.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from filegate.errors import InvalidParameter
from filegate.settings import EgressPolicy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses a connection to that host could reach. Injected in tests.
Resolver = Callable[[str, int], Iterable[str]]

MAX_URL_LENGTH: Final = 2048
PRIVILEGED_PORT: Final = "ports below 1024 other than 80 and 443 are not allowed"
DEFAULT_PORTS: Final = {"https": 443, "http": 80}

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Checked in order; the first match names the reason. Sources: IANA special-purpose registries.
_IPV4_BLOCKED: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_V4("0.0.0.0/8"), "unspecified/this-network"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared address space (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (incl. cloud metadata)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # includes 255.255.255.255
)
_IPV6_BLOCKED: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/32"), "Teredo tunnel"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001::/23"), "IETF protocol assignments"),
    (_V6("2002::/16"), "6to4 tunnel"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "SRv6 SIDs"),
    (_V6("fc00::/7"), "unique-local"),  # includes fd00:ec2::254, the EC2 metadata endpoint over IPv6
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)
_IPV6_GLOBAL_UNICAST: Final = _V6("2000::/3")
_IPV4_MAPPED: Final = _V6("::ffff:0:0/96")
_IPV4_COMPATIBLE: Final = _V6("::/96")
_NAT64: Final = _V6("64:ff9b::/96")
_LOOPBACK: Final = "loopback"

_LABEL_RE: Final = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL_RE: Final = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_FORBIDDEN_URL_CHARS: Final = re.compile(r"[\x00-\x20\x7f\\]")


class RefusedDestination(InvalidParameter):
    """A URL FileGate will not call. Rendered as ``422 invalid_parameter``; ``label`` names the field."""

    def __init__(self, reason: str, label: str = "url") -> None:
        self.reason = reason
        super().__init__(f"{label}: the destination is not allowed: {reason}.")


@dataclass(frozen=True)
class VettedTarget:
    """A URL that passed the policy, and the only addresses delivery may connect to."""

    url: str
    scheme: str  # "https", or "http" on the local stack
    host: str  # ASCII (IDNA) host name or IP literal without brackets: the Host header and TLS name
    port: int
    path: str  # path and query, percent-encoded, at least "/"
    addresses: tuple[str, ...]  # every resolved address, each checked

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): what a redirect must keep for a private link's headers to follow it."""
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


# --- address classification ----------------------------------------------------------------------


def _ipv4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _IPV4_BLOCKED:
        if ip in network:
            return reason
    if not ip.is_global:  # belt and braces: whatever this Python knows that the table does not
        return "not globally routable"
    return None


def _ipv6_reason(ip: ipaddress.IPv6Address) -> str | None:
    if ip in _IPV4_MAPPED:
        inner = _ipv4_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return None if inner is None else f"IPv4-mapped {inner}"
    if ip in _NAT64:
        inner = _ipv4_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return None if inner is None else f"NAT64 {inner}"
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 get their own names below
        inner = _ipv4_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return f"IPv4-compatible {inner or 'address (deprecated)'}"
    if ip in _V6("2002::/16"):
        inner = _ipv4_reason(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
        return f"6to4 {inner or 'tunnel'}"
    for network, reason in _IPV6_BLOCKED:
        if ip in network:
            return reason
    if ip not in _IPV6_GLOBAL_UNICAST:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def address_block_reason(address: str | IPAddress) -> str | None:
    """Why FileGate refuses to connect to this address, or None when it is public unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    return _ipv4_reason(ip) if isinstance(ip, ipaddress.IPv4Address) else _ipv6_reason(ip)


def _is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


# --- host parsing ---------------------------------------------------------------------------------


def parse_inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as ``inet_aton`` would: 1-4 parts, each decimal, ``0x`` hex or ``0`` octal, the last
    part filling the remaining bytes. None if it is not such a spelling."""
    parts = host.lower().split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if part.startswith("0x"):
            digits, base = part[2:], 16
            if not digits:
                return None
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        if not digits or not all(c in "0123456789abcdef"[:base] for c in digits):
            return None
        values.append(int(digits, base))
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for index, value in enumerate(head):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def _ip_literal(host: str) -> IPAddress | None:
    """The address a literal host denotes, None for a name; refuses what resolvers would read as numbers."""
    if ":" in host:
        if "%" in host:
            raise RefusedDestination("IPv6 zone identifiers are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise RefusedDestination("invalid IPv6 address") from None
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()  # "127.0.0.1." is still 127.0.0.1 to a resolver
    if not _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return None
    address = parse_inet_aton(".".join(labels))
    if address is None:
        raise RefusedDestination("the host looks like an IP address but is not a valid one")
    return address


def _ascii_host(raw: str) -> str:
    """The host as DNS sees it: lower case, IDNA-encoded (which also folds e.g. full-width digits)."""
    if raw.isascii():
        return raw.lower()
    try:
        return raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise RefusedDestination("the host name is not a valid internationalized domain name") from None


def _check_hostname(host: str) -> None:
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in name.split(".")):
        raise RefusedDestination("invalid host name")


# --- resolution -----------------------------------------------------------------------------------


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for a TCP connection to host:port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def loopback_only_resolver(host: str, port: int) -> list[str]:
    """A resolver for test runs: ``localhost`` is loopback, every other name does not resolve (no DNS query)."""
    if host.lower().removesuffix(".") == "localhost":
        return ["127.0.0.1", "::1"]
    raise OSError(f"{host}: only localhost resolves in this test run")


def resolver_for(policy: EgressPolicy) -> Resolver | None:
    """The resolver a function's settings call for: None (the system's) unless a test run turned DNS off."""
    return loopback_only_resolver if policy.egress_resolve_loopback_only else None


def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        raw = list(resolver(host, port))
    except (OSError, UnicodeError):
        raise RefusedDestination("the host name does not resolve") from None
    addresses: list[IPAddress] = []
    for text in raw:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise RefusedDestination("the host resolves to an invalid address") from None
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise RefusedDestination("the host name does not resolve")
    return addresses


# --- the policy -----------------------------------------------------------------------------------


def vet_url(
    url: str,
    *,
    allow_insecure_loopback: bool = False,
    resolver: Resolver | None = None,
    label: str = "url",
) -> VettedTarget:
    """Check ``url`` against the policy and resolve it; raise ``RefusedDestination`` (naming ``label``)
    when it is refused.

    ``allow_insecure_loopback`` is for the local stack only: it allows ``http`` and loopback addresses,
    and relaxes nothing else.
    """
    try:
        return _vet(url, allow_insecure_loopback, resolver)
    except RefusedDestination as exc:
        if label == "url":
            raise
        raise RefusedDestination(exc.reason, label) from None


def _vet(url: str, allow_insecure_loopback: bool, resolver: Resolver | None) -> VettedTarget:
    if not isinstance(url, str) or not url:
        raise RefusedDestination("a URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise RefusedDestination(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_URL_CHARS.search(url):
        raise RefusedDestination("the URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port_value = parts.port
    except ValueError:
        raise RefusedDestination("the URL or its port is malformed") from None

    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_insecure_loopback else ("https",)
    if scheme not in allowed_schemes:
        raise RefusedDestination("the URL must use https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise RefusedDestination("credentials (user:password@) are not allowed in the URL")
    raw_host = parts.hostname
    if not raw_host:
        raise RefusedDestination("the URL has no host")
    if port_value is None and parts.netloc.endswith(":"):
        raise RefusedDestination("the URL has an empty port")
    port = DEFAULT_PORTS[scheme] if port_value is None else port_value
    if not 1 <= port <= 65535:
        raise RefusedDestination("the port must be between 1 and 65535")
    # Privileged ports are other protocols' (SSH, SMTP, ...): HTTP sent there is protocol smuggling. The local
    # stack's loopback allowance covers loopback at any port (its tests' receivers), checked once resolved.
    privileged = port < 1024 and port not in DEFAULT_PORTS.values()
    if privileged and not allow_insecure_loopback:
        raise RefusedDestination(PRIVILEGED_PORT)

    host = _ascii_host(raw_host)
    literal = _ip_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
        # The normalized spelling is what Host and TLS see; an IPv4-mapped literal is named as its IPv4.
        mapped = literal.ipv4_mapped if isinstance(literal, ipaddress.IPv6Address) else None
        host = str(mapped or literal)
    else:
        _check_hostname(host)
        host = host.removesuffix(".")  # one spelling for Host, TLS and logs
        addresses = _resolve(host, port, resolver or system_resolver)

    for ip in addresses:
        if allow_insecure_loopback and _is_loopback(ip):
            continue
        reason = address_block_reason(ip)
        if reason is not None:
            shown = "" if literal is not None else f" ({host} resolves to {ip})"
            raise RefusedDestination(f"{reason} addresses are not allowed{shown}")
    if privileged and not all(_is_loopback(ip) for ip in addresses):
        raise RefusedDestination(PRIVILEGED_PORT)
    # The local stack's plain http is for its loopback receivers only: http to a public host stays refused.
    if scheme == "http" and not all(_is_loopback(ip) for ip in addresses):
        raise RefusedDestination("the URL must use https (plain http reaches loopback addresses only)")

    # Non-ASCII in the path or query is percent-encoded (HTTP request lines are ASCII); existing escapes stay.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    # An IPv4-mapped address is dialled as plain IPv4: same host, and no IPv6 route needed.
    dial = [
        str(ip.ipv4_mapped) if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else str(ip) for ip in addresses
    ]
    return VettedTarget(url=url, scheme=scheme, host=host, port=port, path=path, addresses=tuple(dict.fromkeys(dial)))
