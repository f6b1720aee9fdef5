"""Holes found by fuzzing the local stack (issue 11), through the gateway into the real functions."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.helpers.local_api import Client, assert_error, new_account

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.fixture
def pro(stack):
    return Client(stack.url).with_key(new_account(stack)["api_key"])


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, '{"email":' + DEEP_ARRAY + "}"])
def test_deep_json_on_the_unauthenticated_sign_up_is_400(stack, body):
    signup = Client(stack.url, source_ip="127.0.0.61")
    response = signup.post("/v1/keys/free", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/keys"),
        ("PATCH", "/v1/keys/key_x"),
        ("POST", "/v1/keys/rotate"),
        ("POST", "/v1/files"),
        ("POST", "/v1/conversions"),
        ("POST", "/v1/conversions/bulk"),
        ("POST", "/v1/webhooks"),
    ],
)
def test_deep_json_on_every_json_endpoint_is_400(pro, method, path):
    response = pro.request(method, path, data=DEEP_OBJECT, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/v1/files/%2F", "/v1/conversions/%2F", "/v1/files/%2F/content"])
def test_encoded_slash_id_is_the_not_found_body(pro, path):
    response = pro.get(path)
    assert "Location" not in response.headers
    assert_error(response, 404, "not_found")


def _raw_get(url: str, key: str, host_lines: list[str]) -> tuple[int, bytes]:
    """A GET with exactly the Host lines given (no client library would send two)."""
    parts = urlsplit(url)
    head = [f"GET {parts.path or '/'}v1/entitlements/me HTTP/1.1", *host_lines]
    head += [f"Authorization: Bearer {key}", "Connection: close", "", ""]
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall("\r\n".join(head).encode())
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "host_lines",
    [
        ["Host: [::1]:3000"],
        ["Host: 127.0.0.1:abc"],
        ["Host: 127.0.0.1:3000", "Host: 127.0.0.1:3001"],
        ["Host: example.com", "X-Forwarded-Port: https"],
    ],
)
def test_no_host_header_makes_a_function_fail(stack, host_lines):
    key = new_account(stack)["api_key"]
    status, body = _raw_get(stack.url.rstrip("/") + "/", key, host_lines)
    assert status == 200, (status, body)  # the gateway passes them on; the function must not trip on them
    assert json.loads(body)["tier"] == "pro"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("DELETE", "/v1/formats", "GET"), ("PUT", "/v1/keys/key_x", "DELETE, PATCH"), ("GET", "/v1/keys/rotate", "POST")],
)
def test_a_known_path_with_another_method_is_405_through_the_gateway(stack, method, path, allow):
    # The local gateway routes it as API Gateway does: the resource's own methods first, then its ANY event
    # (no key), whose function answers from the route table. An unknown path stays the 404 body.
    response = Client(stack.url).request(method, path)
    body = assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow and allow in body["error"]["message"]
    assert_error(Client(stack.url).request(method, "/v1/no-such-thing"), 404, "not_found")
