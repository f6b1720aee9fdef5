"""The egress guard end to end: hostile URLs refused before any connection, redirects re-checked each hop,
private headers kept to their origin, the byte cap on what arrives, the wall clock. Every server is on
127.0.0.1 and started here; every "public" name is answered by an injected resolver, never real DNS."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from filegate.egress import connection
from filegate.egress import fetch as fetch_module
from filegate.egress.fetch import (
    FILE_TOO_LARGE,
    IMPORT_FAILED,
    IMPORT_REFUSED,
    FetchFailed,
    FetchLimits,
    check_headers,
    fetch,
)
from filegate.egress.policy import Resolver
from filegate.errors import InvalidParameter
from tests.helpers.egress_servers import (
    Site,
    redirect,
    reply,
    serve,
    start_site,
    stop_site,
)
from tests.helpers.listener import Listener
from tests.helpers.tls import client_context, self_signed, server_context

LIMITS = FetchLimits(max_bytes=1 << 20, connect_timeout=2.0, wall_seconds=5.0)


def resolver_to(*addresses: str) -> Resolver:
    def resolve(host: str, port: int) -> Iterable[str]:
        return list(addresses)

    return resolve


def no_dns(host: str, port: int) -> Iterable[str]:
    raise AssertionError(f"no resolution expected for {host}")


@pytest.fixture
def listener() -> Iterator[Listener]:
    lis = Listener()
    yield lis
    lis.close()


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address the guard dials; only 127.0.0.1 is ever really connected to."""
    made: list[tuple[str, int]] = []
    real = socket.create_connection

    def recording(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        made.append(address)
        if address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"the guard dialled {address[0]}")
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection.socket, "create_connection", recording)
    return made


def refusal(url: str, resolver: Resolver = no_dns, *, loopback: bool = False) -> FetchFailed:
    with pytest.raises(FetchFailed) as info:
        download(url, loopback=loopback, resolver=resolver)
    return info.value


# (url with {port} for the listener, resolver answer or None for literals, what the refusal names)
HOSTILE: list[tuple[str, tuple[str, ...] | None, str]] = [
    ("http://127.0.0.1:{port}/", None, "must use https"),
    ("https://127.0.0.1:{port}/", None, "loopback"),
    ("https://localhost:{port}/", ("127.0.0.1",), "loopback"),
    ("https://2130706433:{port}/", None, "loopback"),  # decimal
    ("https://0x7f000001:{port}/", None, "loopback"),  # hex
    ("https://0177.0.0.1:{port}/", None, "loopback"),  # octal
    ("https://0x7f.1:{port}/", None, "loopback"),  # mixed short form
    ("https://127.1:{port}/", None, "loopback"),
    ("https://127.0.0.1.:{port}/", None, "loopback"),  # trailing dot
    ("https://[::1]:{port}/", None, "loopback"),
    ("https://[::ffff:127.0.0.1]:{port}/", None, "IPv4-mapped loopback"),
    ("https://[::ffff:7f00:1]:{port}/", None, "IPv4-mapped loopback"),
    ("https://[::127.0.0.1]:{port}/", None, "IPv4-compatible loopback"),
    ("https://[64:ff9b::7f00:1]:{port}/", None, "NAT64 loopback"),
    ("https://[64:ff9b::a9fe:a9fe]:{port}/", None, "NAT64 link-local"),
    ("https://[64:ff9b:1::1]:{port}/", None, "local-use NAT64"),
    ("https://[2002:7f00:1::1]:{port}/", None, "6to4 loopback"),
    ("https://[2002:a9fe:a9fe::]:{port}/", None, "6to4 link-local"),
    ("https://[2001::1]:{port}/", None, "Teredo"),
    ("https://[fe80::1%25eth0]:{port}/", None, "zone identifiers"),
    ("https://[fe80::1]:{port}/", None, "link-local"),
    ("https://[fd00:ec2::254]:{port}/", None, "unique-local"),
    ("https://[ff02::1]:{port}/", None, "multicast"),
    ("https://[::]:{port}/", None, "unspecified"),
    ("https://169.254.169.254:{port}/latest/meta-data/", None, "link-local"),
    ("https://2852039166:{port}/", None, "link-local"),  # 169.254.169.254 in decimal
    ("https://10.0.0.1:{port}/", None, "private"),
    ("https://172.16.0.1:{port}/", None, "private"),
    ("https://192.168.1.1:{port}/", None, "private"),
    ("https://100.64.0.1:{port}/", None, "shared"),
    ("https://224.0.0.1:{port}/", None, "multicast"),
    ("https://0.0.0.0:{port}/", None, "unspecified"),
    ("https://0:{port}/", None, "unspecified"),
    ("https://255.255.255.255:{port}/", None, "reserved"),
    ("https://192.0.2.1:{port}/", None, "documentation"),
    ("https://rebind.example:{port}/", ("127.0.0.1",), "loopback"),
    ("https://metadata.example:{port}/", ("169.254.169.254",), "link-local"),
    ("https://mixed.example:{port}/", ("8.8.8.8", "10.0.0.1"), "private"),  # one bad address is enough
    ("https://mapped.example:{port}/", ("::ffff:10.0.0.1",), "IPv4-mapped private"),
    ("https://user:pass@files.example:{port}/", None, "credentials"),
    ("https://user@files.example:{port}/", None, "credentials"),
    ("https://files.example:{port}/a\r\nX-Injected: 1", None, "control characters"),
    ("https://files.example:{port}/a\nb", None, "control characters"),
    ("https://files.example:{port}/" + "a" * 2048, None, "longer than 2048"),
    ("https://files.example:22/", None, "ports below 1024"),
    ("https://files.example:0/", None, "port"),
    ("https://files.example:65536/", None, "port"),
    ("file:///etc/passwd", None, "must use https"),
    ("ftp://files.example:{port}/x", None, "must use https"),
    ("gopher://files.example:{port}/_x", None, "must use https"),
    ("https://1.2.3.999:{port}/", None, "not a valid one"),
]


@pytest.mark.parametrize(("template", "answer", "named"), HOSTILE, ids=[h[0][:60] for h in HOSTILE])
def test_hostile_url_refused_without_a_connection(
    template: str, answer: tuple[str, ...] | None, named: str, listener: Listener, dials: list[tuple[str, int]]
) -> None:
    url = template.replace("{port}", str(listener.port))
    failure = refusal(url, no_dns if answer is None else resolver_to(*answer))
    assert failure.code == IMPORT_REFUSED
    assert named in failure.message
    time.sleep(0.05)
    assert dials == [] and listener.connections == 0


def test_loopback_allowance_relaxes_only_loopback(listener: Listener, dials: list[tuple[str, int]]) -> None:
    for url in (
        f"http://10.0.0.1:{listener.port}/",
        f"http://169.254.169.254:{listener.port}/",
        f"http://[fe80::1%25lo]:{listener.port}/",
    ):
        assert refusal(url, loopback=True).code == IMPORT_REFUSED
    assert dials == [] and listener.connections == 0


# ------------------------------------------------------------------ real exchanges (loopback allowance)


@pytest.fixture
def site() -> Iterator[Site]:
    s = start_site({})
    yield s
    stop_site(s)


@pytest.fixture
def other() -> Iterator[Site]:
    s = start_site({})
    yield s
    stop_site(s)


def download(
    url: str,
    headers: dict[str, str] | None = None,
    limits: FetchLimits = LIMITS,
    *,
    loopback: bool = True,
    resolver: Resolver | None = None,
) -> bytes:
    with fetch(url, headers or {}, limits, allow_insecure_loopback=loopback, resolver=resolver) as body:
        return b"".join(body.chunks())


def test_plain_download_sends_identity_and_no_private_header_leak(site: Site) -> None:
    site.routes["/f"] = serve(b"x" * 1000)
    assert download(site.url("/f"), {"Authorization": "Bearer s3cret"}) == b"x" * 1000
    assert site.seen[0].headers["accept-encoding"] == "identity"
    assert site.seen[0].headers["authorization"] == "Bearer s3cret"  # same origin: sent


def test_five_redirects_followed_six_refused(site: Site) -> None:
    for hop in range(6):
        site.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}")
    site.routes["/r6"] = serve(b"end")
    assert download(site.url("/r1")) == b"end"  # five hops
    with pytest.raises(FetchFailed) as info:
        download(site.url("/r0"))  # six hops
    assert (info.value.code, info.value.message) == (IMPORT_FAILED, "more than 5 redirects")


def test_redirect_to_private_address_refused_before_connecting(
    site: Site, listener: Listener, dials: list[tuple[str, int]]
) -> None:
    site.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/")
    site.routes["/ten"] = redirect(f"http://10.1.2.3:{listener.port}/")
    site.routes["/mapped"] = redirect(f"http://[::ffff:a9fe:a9fe]:{listener.port}/")
    for path, named in (("/meta", "link-local"), ("/ten", "private"), ("/mapped", "IPv4-mapped link-local")):
        with pytest.raises(FetchFailed) as info:
            download(site.url(path))
        assert info.value.code == IMPORT_REFUSED and named in info.value.message
    assert {address for address, _ in dials} == {"127.0.0.1"} and listener.connections == 0


def test_private_header_does_not_follow_a_redirect_to_another_origin(site: Site, other: Site) -> None:
    other.routes["/file"] = serve(b"moved")
    site.routes["/start"] = redirect(other.url("/file"))
    assert download(site.url("/start"), {"Authorization": "Bearer s3cret", "X-Token": "t"}) == b"moved"
    assert site.seen[0].headers.get("authorization") == "Bearer s3cret"
    assert "authorization" not in other.seen[0].headers and "x-token" not in other.seen[0].headers


def test_private_header_follows_a_redirect_within_its_origin(site: Site) -> None:
    site.routes["/a"] = redirect("/b", 307)
    site.routes["/b"] = serve(b"same")
    assert download(site.url("/a"), {"Authorization": "Bearer s3cret"}) == b"same"
    assert [s.headers.get("authorization") for s in site.seen] == ["Bearer s3cret", "Bearer s3cret"]


def test_byte_cap_counts_what_arrives_not_content_length(site: Site) -> None:
    def liar(h: object) -> None:
        reply(h, 200, b"y" * 300_000, {"Content-Length": "10"})  # type: ignore[arg-type]

    site.routes["/lie"] = liar
    with pytest.raises(FetchFailed) as info:
        download(site.url("/lie"), limits=FetchLimits(max_bytes=100_000, connect_timeout=2, wall_seconds=5))
    assert info.value.code == FILE_TOO_LARGE


def test_a_server_that_keeps_the_connection_open_is_read_to_its_declared_length(site: Site) -> None:
    def keep_alive(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "5000")
        handler.end_headers()  # no "Connection: close", and the connection stays open
        handler.wfile.write(b"k" * 5000)
        handler.wfile.flush()
        site.release.wait(10)

    site.routes["/keep"] = keep_alive
    started = time.monotonic()
    assert download(site.url("/keep")) == b"k" * 5000
    assert time.monotonic() - started < 4  # the linger (2 s), not the wall clock (5 s)


def test_truncated_body_fails(site: Site) -> None:
    def short(h: object) -> None:
        reply(h, 200, b"z" * 10, {"Content-Length": "1000"})  # type: ignore[arg-type]

    site.routes["/short"] = short
    with pytest.raises(FetchFailed) as info:
        download(site.url("/short"))
    assert info.value.code == IMPORT_FAILED and "10 of 1000" in info.value.message


def test_slow_drip_bounded_by_the_wall_clock(site: Site) -> None:
    def drip(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        while not site.release.wait(0.1):
            handler.wfile.write(b"d")
            handler.wfile.flush()

    site.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(FetchFailed) as info:
        download(site.url("/drip"), limits=FetchLimits(max_bytes=1 << 20, connect_timeout=2, wall_seconds=1.0))
    assert info.value.code == IMPORT_FAILED and "within 1 s" in info.value.message
    assert time.monotonic() - started < 3


def test_error_status_and_compressed_body_fail(site: Site) -> None:
    site.routes["/gz"] = lambda h: reply(h, 200, b"\x1f\x8b", {"Content-Encoding": "gzip"})
    for path, named in (("/missing", "HTTP 404"), ("/gz", "compressed")):
        with pytest.raises(FetchFailed) as info:
            download(site.url(path))
        assert info.value.code == IMPORT_FAILED and named in info.value.message


def test_connection_refused_is_import_failed() -> None:
    lis = Listener()
    port = lis.port
    lis.close()
    with pytest.raises(FetchFailed) as info:
        download(f"http://127.0.0.1:{port}/")
    assert info.value.code == IMPORT_FAILED


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil"},
        {"Content-Length": "0"},
        {"Accept-Encoding": "gzip"},
        {"X-A": "v4lue\r\nX-Injected: 1"},
        {"X-A": "v4lue\nb"},
        {"Bad Name": "v"},
        {"X-A": 5},
        {"Authorization": "Bearer caf\u00e9"},  # Latin-1: once accepted, then the job failed
        {"Authorization": "Bearer \u0442\u043e\u043a\u0435\u043d"},
        {"Authorization": "Bearer \U0001f511"},
        {"X-A": "a\u00a0b"},
        {"X-A": "del\x7f"},
        {"X-A": "\tleading"},
        {"X-A": "trailing "},
        {"X-\u00e9": "v"},
        {f"X-{i}": "v" for i in range(11)},
        ["Authorization"],
    ],
)
def test_smuggling_headers_refused(headers: object) -> None:
    with pytest.raises(InvalidParameter) as info:
        check_headers(headers)
    assert "v4lue" not in info.value.message  # values are never quoted
    assert info.value.message.startswith("headers")


def test_visible_ascii_values_with_inner_spaces_pass() -> None:
    sent = {"Authorization": "Bearer abc.def~_-+/=", "X-Empty": "", "X-Tab": "a\tb c"}
    assert check_headers(sent) == sent


@pytest.mark.parametrize(
    "error",
    [
        UnicodeEncodeError("latin-1", "\u0442", 0, 1, "ordinal not in range"),
        ValueError("boom"),
        ssl.SSLError(1, "x"),
        http.client.BadStatusLine("x"),
        OSError(),
    ],
)
def test_failure_messages_never_name_an_internal_exception(error: BaseException) -> None:
    message = fetch_module._describe(error, False, FetchLimits(max_bytes=1))
    assert type(error).__name__ not in message and "Error" not in message and message


# ------------------------------------------------------------------ TLS: pinned address, verified name


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_https_pins_the_checked_address_and_verifies_the_name(tls_files: tuple[Path, Path]) -> None:
    site = start_site({"/f": serve(b"secure")}, tls=server_context(*tls_files))
    try:
        url = f"https://localhost:{site.port}/f"
        with fetch(
            url, {}, LIMITS, allow_insecure_loopback=True, resolver=resolver_to("127.0.0.1"),
            ssl_context=client_context(tls_files[0]),
        ) as body:  # fmt: skip
            assert b"".join(body.chunks()) == b"secure"
        assert site.seen[0].headers["host"] == f"localhost:{site.port}"
        # The same address under a name the certificate does not carry: TLS refuses it.
        with pytest.raises(FetchFailed) as info, fetch(
            f"https://files.example:{site.port}/f", {}, LIMITS, allow_insecure_loopback=True,
            resolver=resolver_to("127.0.0.1"), ssl_context=client_context(tls_files[0]),
        ) as body:  # fmt: skip
            list(body.chunks())
        assert info.value.code == IMPORT_FAILED and "TLS" in info.value.message
    finally:
        stop_site(site)


def test_https_to_http_redirect_refused(tls_files: tuple[Path, Path], other: Site) -> None:
    other.routes["/f"] = serve(b"plain")
    site = start_site({"/down": redirect(other.url("/f"))}, tls=server_context(*tls_files))
    try:
        with (
            pytest.raises(FetchFailed) as info,
            fetch(
                site.url("/down"), {}, LIMITS, allow_insecure_loopback=True, ssl_context=client_context(tls_files[0])
            ) as body,
        ):
            list(body.chunks())
        assert info.value.code == IMPORT_REFUSED and "https to plain http" in info.value.message
        assert other.seen == []
    finally:
        stop_site(site)
