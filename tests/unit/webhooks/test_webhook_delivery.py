"""Delivery against a real receiver on 127.0.0.1 (http.server in a thread, started and stopped here)."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from filegate.egress.policy import VettedTarget, vet_url
from filegate.webhooks import events
from filegate.webhooks.delivery import (
    ERROR_CONNECT,
    ERROR_HTTP_STATUS,
    ERROR_REDIRECT,
    ERROR_TIMEOUT,
    ERROR_TLS,
    ERROR_UNSAFE_URL,
    MAX_RESPONSE_EXCERPT_BYTES,
    deliver,
    vet_and_deliver,
)
from filegate.webhooks.signing import build_webhook, generate_secret
from filegate.webhooks.verify import verify
from tests.helpers.tls import client_context, self_signed, server_context


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: http.server.ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends slow handlers at teardown
    sni: list[str | None] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def make_handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes = b"", extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.received.append(Received(self.path, headers, body))
            if self.path.startswith("/ok"):
                self.reply(200, b"thanks")
            elif self.path == "/accepted":
                self.reply(204)
            elif self.path == "/fail":
                self.reply(500, b"boom: database down")
            elif self.path == "/redirect":
                self.reply(302, b"", {"Location": "/ok"})
            elif self.path == "/big":
                self.reply(200, b"x" * 1_000_000)
            elif self.path == "/slow":
                receiver.release.wait(5)
                self.reply(200, b"late")
            elif self.path == "/drip":
                # A valid status line, then one header byte at a time: each recv is quick, the whole is not.
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                self.wfile.flush()
                while not receiver.release.wait(0.1):
                    self.wfile.write(b"X")
                    self.wfile.flush()
            else:
                self.reply(404)

    return Handler


def start_receiver(tls: ssl.SSLContext | None = None) -> Receiver:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.daemon_threads = True
    receiver = Receiver(server)
    server.RequestHandlerClass = make_handler(receiver)
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: receiver.sni.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    stop_receiver(r)


def local(url: str) -> VettedTarget:
    return vet_url(url, allow_insecure_loopback=True)


SECRET = generate_secret()


def signed(event: str = events.CONVERSION_SUCCEEDED) -> tuple[bytes, dict[str, str]]:
    message, headers = build_webhook(event, {"id": "cnv_1", "status": "succeeded"}, [SECRET])
    return message.body, headers


# --- outcomes --------------------------------------------------------------------------------------


def test_200_is_success_and_arrives_intact(receiver: Receiver) -> None:
    body, headers = signed()
    result = deliver(local(receiver.url("/ok?src=test")), body, headers)
    assert result.ok
    assert (result.status_code, result.error, result.response_excerpt) == (200, None, "thanks")
    assert result.remote_address == "127.0.0.1"
    assert 0 < result.latency_ms < 5000
    [got] = receiver.received
    assert got.path == "/ok?src=test"
    assert got.body == body
    assert got.headers["webhook-id"] == headers["webhook-id"]
    assert got.headers["webhook-timestamp"] == headers["webhook-timestamp"]
    assert got.headers["webhook-signature"] == headers["webhook-signature"]
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.headers["user-agent"].startswith("FileGate-Webhooks/")
    # What arrived verifies with the reference implementation and with ours.
    assert Webhook(SECRET).verify(got.body, got.headers)["data"] == {"id": "cnv_1", "status": "succeeded"}
    assert verify(got.body, got.headers, SECRET)["type"] == "conversion.succeeded"


def test_204_is_success(receiver: Receiver) -> None:
    result = deliver(local(receiver.url("/accepted")), *signed())
    assert result.ok and result.status_code == 204 and result.response_excerpt == ""


def test_500_is_recorded_failure(receiver: Receiver) -> None:
    result = deliver(local(receiver.url("/fail")), *signed())
    assert not result.ok
    assert result.status_code == 500
    assert result.error_kind == ERROR_HTTP_STATUS
    assert result.error == "http_status: 500"
    assert result.response_excerpt == "boom: database down"


def test_302_not_followed(receiver: Receiver) -> None:
    result = deliver(local(receiver.url("/redirect")), *signed())
    assert not result.ok
    assert result.status_code == 302
    assert result.error_kind == ERROR_REDIRECT
    assert "Location: /ok" in (result.error or "")
    assert [r.path for r in receiver.received] == ["/redirect"]  # /ok never requested


def test_large_response_only_excerpt_read(receiver: Receiver) -> None:
    started = time.monotonic()
    result = deliver(local(receiver.url("/big")), *signed())
    assert result.ok
    assert 0 < len(result.response_excerpt) <= MAX_RESPONSE_EXCERPT_BYTES
    assert time.monotonic() - started < 5


def test_slow_receiver_times_out(receiver: Receiver) -> None:
    started = time.monotonic()
    result = deliver(local(receiver.url("/slow")), *signed(), timeout=1.0)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.status_code is None
    assert result.error_kind == ERROR_TIMEOUT
    assert 0.9 <= elapsed < 2.0
    assert 900 <= result.latency_ms < 2000


def test_dripping_receiver_bounded_by_total_deadline(receiver: Receiver) -> None:
    started = time.monotonic()
    result = deliver(local(receiver.url("/drip")), *signed(), timeout=1.0)
    assert result.error_kind == ERROR_TIMEOUT
    assert result.status_code is None  # a status line alone, cut off at the deadline, is no response
    assert time.monotonic() - started < 2.0


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = deliver(local(f"http://127.0.0.1:{port}/"), *signed(), timeout=1.0)
    assert result.status_code is None
    assert result.error_kind == ERROR_CONNECT


def test_unreachable_first_address_falls_through_to_next_vetted_one(receiver: Receiver) -> None:
    target = VettedTarget(
        url="http://multi.test/",
        scheme="http",
        host="multi.test",
        port=receiver.port,
        path="/ok",
        addresses=("::1", "127.0.0.1"),  # nothing listens on ::1 at this port
    )
    result = deliver(target, *signed(), timeout=2.0)
    assert result.ok and result.remote_address == "127.0.0.1"


# --- pinning and re-checking -----------------------------------------------------------------------


def test_connects_to_vetted_address_with_original_host_header(receiver: Receiver) -> None:
    def resolver(host: str, port: int) -> Iterable[str]:
        return ["127.0.0.1"]

    url = f"http://receiver.example:{receiver.port}/ok"
    result = vet_and_deliver(url, *signed(), allow_insecure_loopback=True, resolver=resolver, timeout=2.0)
    assert result.ok
    assert receiver.received[0].headers["host"] == f"receiver.example:{receiver.port}"


def test_rebinding_is_caught_at_delivery(receiver: Receiver) -> None:
    answers = iter([["8.8.8.8"], ["10.0.0.7"]])

    def rebinding(host: str, port: int) -> Iterable[str]:
        return next(answers)

    url = "https://rebind.example/hook"
    assert vet_url(url, resolver=rebinding).addresses == ("8.8.8.8",)  # registration passes
    result = vet_and_deliver(url, *signed(), resolver=rebinding)  # the attempt re-checks
    assert result.error_kind == ERROR_UNSAFE_URL
    assert "private" in (result.error or "")
    assert result.status_code is None and receiver.received == []


def test_http_refused_without_flag_at_delivery(receiver: Receiver) -> None:
    result = vet_and_deliver(receiver.url("/ok"), *signed())
    assert result.error_kind == ERROR_UNSAFE_URL
    assert receiver.received == []


def test_caller_cannot_override_host_or_length(receiver: Receiver) -> None:
    body, headers = signed()
    headers = dict(headers, Host="evil.example", **{"Content-Length": "1", "Connection": "keep-alive"})
    result = deliver(local(receiver.url("/ok")), body, headers)
    assert result.ok
    got = receiver.received[0]
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}" and got.body == body


def test_header_injection_is_a_failed_attempt_not_a_crash(receiver: Receiver) -> None:
    body, headers = signed()
    result = deliver(local(receiver.url("/ok")), body, dict(headers, **{"x-bad": "a\r\nInjected: 1"}))
    assert not result.ok and result.error_kind == "invalid_request"
    assert receiver.received == []


# --- TLS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_receiver(tls_material: tuple[Path, Path]) -> Iterator[Receiver]:
    r = start_receiver(server_context(*tls_material))
    yield r
    stop_receiver(r)


def test_https_sni_and_hostname_verified(tls_receiver: Receiver, tls_material: tuple[Path, Path]) -> None:
    def resolver(host: str, port: int) -> Iterable[str]:
        return ["127.0.0.1"]

    target = vet_url(tls_receiver.url("/ok", "https", "localhost"), allow_insecure_loopback=True, resolver=resolver)
    result = deliver(target, *signed(), ssl_context=client_context(tls_material[0]))
    assert result.ok, result.error
    assert tls_receiver.sni == ["localhost"]
    assert tls_receiver.received[0].headers["host"] == f"localhost:{tls_receiver.port}"


def test_https_wrong_hostname_refused(tls_receiver: Receiver, tls_material: tuple[Path, Path]) -> None:
    # The address is right, the certificate does not name the host we were asked to call.
    target = VettedTarget(
        url="https://other.example/",
        scheme="https",
        host="other.example",
        port=tls_receiver.port,
        path="/ok",
        addresses=("127.0.0.1",),
    )
    result = deliver(target, *signed(), timeout=2.0, ssl_context=client_context(tls_material[0]))
    assert result.error_kind == ERROR_TLS
    assert "other.example" in (result.error or "") or "mismatch" in (result.error or "")
    assert tls_receiver.received == []


def test_https_untrusted_certificate_refused(tls_receiver: Receiver) -> None:
    target = vet_url(tls_receiver.url("/ok", "https"), allow_insecure_loopback=True)
    result = deliver(target, *signed(), timeout=2.0)  # default context: system CAs only
    assert result.error_kind == ERROR_TLS
    assert tls_receiver.received == []
