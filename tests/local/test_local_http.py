"""The local gateway's HTTP transport, on tests/local/conftest.py's session stack: what it refuses, and how."""

from __future__ import annotations

import contextlib
import socket
import time
from http.client import HTTPConnection

import httpx
import pytest

from filegate_local.stack import LocalStack

TOO_LARGE = f"Content-Length: {10 * 1024 * 1024 + 1}\r\n"
SHORT = b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (f"POST /v1/convert HTTP/1.1\r\nHost: x\r\n{TOO_LARGE}\r\n".encode(), 413, b"X-Request-Body-Bytes: 10485761"),
        (f"POST /v1/convert HTTP/1.1\r\nExpect: 100-continue\r\n{TOO_LARGE}\r\n".encode(), 413, b'"file_too_large"'),
        (b"GARBAGE\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/9.9\r\n\r\n", 505, b'"invalid_request"'),
        (SHORT + b"Content-Length: 100\r\n\r\n{}", 400, b'"request_id": "'),  # a body stops short
        (SHORT + b"Transfer-Encoding: chunked\r\n\r\n64\r\n{}", 400, b'"invalid_request"'),  # a chunk stops short
    ],
)
def test_what_the_gateway_will_not_serve_gets_its_gateway_response_quickly(
    stack: LocalStack, payload: bytes, status: int, expected: bytes
) -> None:
    """Before a body over the limit is sent; within the body stall limit (2 s) for a body that stops short."""
    assert stack.gateway is not None
    started, answer = time.monotonic(), b""
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=10) as sock:
        sock.sendall(payload)  # and waits for the answer, the connection open
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):  # the gateway closes the connection after its answer
                answer += chunk
    assert int(answer.split(b" ", 2)[1]) == status and expected in answer, answer
    assert time.monotonic() - started < 5 and b"x-amzn-RequestId: " in answer


def test_chunked_bodies_keep_alive_and_head(stack: LocalStack, http: httpx.Client) -> None:
    assert stack.gateway is not None
    connection = HTTPConnection("127.0.0.1", stack.gateway.port, timeout=60)
    connection.request("POST", "/v1/health", body=iter([b"hello", b" world"]), encode_chunked=True)
    first = connection.getresponse()
    assert (first.status, first.getheader("Transfer-Encoding")) == (405, None) and first.read()
    sock = connection.sock
    connection.request("HEAD", "/v1/health")
    head = connection.getresponse()
    assert (head.status, head.read(), connection.sock) == (405, b"", sock)  # on the same connection
    assert int(head.getheader("Content-Length") or 0) > 0  # of the body HEAD does not get
    connection.close()
    missing = http.get("/v1/definitely-not-a-route")
    error = missing.json()["error"]
    assert (missing.status_code, error["code"]) == (404, "not_found")
    assert error["request_id"] == missing.headers["X-Request-Id"] == missing.headers["x-amzn-RequestId"]
