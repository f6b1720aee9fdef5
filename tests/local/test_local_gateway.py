"""The local stack itself: events held against SAM's, routing, the authorizer and its cache, gateway
responses, robustness, functions' isolation and logs, SQS and DynamoDB stream event sources, provisioning.

Most tests run against a second stack built from tests/local/fixtures/template.yaml, whose
functions misbehave on request; a few check the real template.yaml through the session `stack`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from filegate_local import LocalStack, StackConfig
from tests.integration.helpers import all_gone_within, child_pids, free_ports, process_gone

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The fixture stack (controllable functions), on free ports."""
    config = StackConfig(
        template=FIXTURES / "template.yaml",
        port=0,
        moto_port=0,
        state_dir=tmp_path_factory.mktemp("fixture-stack"),
        stack_name="fixture",
        workers_per_function=2,
    )
    local = LocalStack(config).start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def fx_http(fx: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fx.url, timeout=HTTP_TIMEOUT) as client:
        yield client


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique(token: str) -> str:
    """A token the fixture authorizer treats as `token`, but with an identity of its own (cache key)."""
    return f"{token}:{uuid.uuid4().hex}"


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def raw_http(port: int, payload: bytes, *, shutdown_write: bool = False, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the gateway and return everything it answers before closing (or timing out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


# --------------------------------------------------------------------------------------------- SAM shapes

# Fields real API Gateway events carry that sam's sample events leave out.
PROXY_EXTRAS = {
    "requestContext": {"extendedRequestId", "domainPrefix", "domainName", "deploymentId", "authorizer"},
    "requestContext.identity": {"principalOrgId", "apiKey", "clientCert"},
}
AUTHORIZER_EXTRAS = {
    "": {"multiValueHeaders", "multiValueQueryStringParameters"},
    "requestContext": {
        "extendedRequestId",
        "requestTime",
        "requestTimeEpoch",
        "protocol",
        "domainPrefix",
        "domainName",
        "deploymentId",
    },
    "requestContext.identity": {
        "cognitoIdentityPoolId",
        "accountId",
        "cognitoIdentityId",
        "caller",
        "principalOrgId",
        "accessKey",
        "cognitoAuthenticationType",
        "cognitoAuthenticationProvider",
        "userArn",
        "userAgent",
        "user",
    },
}
# Present only with a feature this API does not use (API keys, mutual TLS): null here, as in AWS.
NULL_WITHOUT_FEATURE = {"requestContext.identity.apiKey", "requestContext.identity.clientCert"}
# Free-form maps: their keys are the request's own (headers, query, ...), only their value types count.
FREE_FORM = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
}


def assert_same_shape(ours: Any, sams: Any, extras: dict[str, set[str]], path: str = "") -> None:
    if isinstance(sams, dict):
        assert isinstance(ours, dict), f"{path or '<event>'}: {type(ours).__name__}, sam has an object"
        if path in FREE_FORM:
            for value in ours.values():
                expected = type(next(iter(sams.values()))) if sams else type(value)
                assert isinstance(value, expected), f"{path}: values are {type(value).__name__}"
            return
        missing = set(sams) - set(ours)
        assert not missing, f"{path or '<event>'} lacks {sorted(missing)}"
        unexpected = set(ours) - set(sams) - extras.get(path, set())
        assert not unexpected, f"{path or '<event>'} has fields sam's event lacks: {sorted(unexpected)}"
        for key, value in sams.items():
            child = f"{path}.{key}" if path else key
            if value is None or (ours[key] is None and child in NULL_WITHOUT_FEATURE):
                continue
            assert_same_shape(ours[key], value, extras, child)
    elif isinstance(sams, list):
        assert isinstance(ours, list), f"{path}: {type(ours).__name__}, sam has a list"
        if sams and ours:
            assert_same_shape(ours[0], sams[0], extras, path)
    else:
        assert type(ours) is type(sams), f"{path}: {type(ours).__name__}, sam has {type(sams).__name__}"


def sam_cli() -> str | None:
    """$SAM_CLI, the Makefile's .venv-sam, or sam on PATH."""
    for candidate in (os.environ.get("SAM_CLI"), str(ROOT / ".venv-sam" / "bin" / "sam")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("sam")


def sam_event(*args: str) -> dict[str, Any]:
    sam = sam_cli()
    if sam is None:
        pytest.skip("the SAM CLI is not installed (make sam-venv)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    out = subprocess.run(
        [sam, "local", "generate-event", *args], capture_output=True, check=True, timeout=120, env=env
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_proxy_event_has_the_shape_sam_generates(fx: LocalStack, fx_http: httpx.Client) -> None:
    sams = sam_event("apigateway", "aws-proxy")
    response = fx_http.post(
        "/echo/path/to/resource?foo=bar",
        content=b'{"test":"body"}',
        headers={"Content-Type": "application/octet-stream", "User-Agent": "Custom User Agent String"},
    )
    assert response.status_code == 200
    ours = response.json()["event"]
    assert_same_shape(ours, sams, PROXY_EXTRAS)
    assert ours["isBase64Encoded"] is True
    assert base64.b64decode(ours["body"]) == b'{"test":"body"}'
    assert ours["resource"] == "/echo/{proxy+}"
    assert ours["pathParameters"] == {"proxy": "path/to/resource"}
    assert ours["queryStringParameters"] == {"foo": "bar"}
    assert ours["multiValueQueryStringParameters"] == {"foo": ["bar"]}
    assert ours["stageVariables"] == {"colour": "blue"}
    context = ours["requestContext"]
    assert context["stage"] == "test"
    assert context["path"] == "/test/echo/path/to/resource"
    assert context["resourcePath"] == "/echo/{proxy+}"
    assert context["httpMethod"] == "POST"
    assert context["accountId"] == "123456789012"
    assert context["apiId"] == fx.state["api_id"]
    assert uuid.UUID(context["requestId"]).version == 4
    assert context["identity"]["userAgent"] == "Custom User Agent String"
    assert "authorizer" not in context  # a public route has no authorizer context


def test_request_authorizer_event_has_the_shape_sam_generates(fx: LocalStack, fx_http: httpx.Client) -> None:
    sams = sam_event("apigateway", "request-authorizer")
    response = fx_http.get("/items/42?q=1", headers=bearer(unique("capture")))
    assert response.status_code == 200
    authorizer = response.json()["event"]["requestContext"]["authorizer"]
    ours = json.loads(authorizer["event"])
    assert_same_shape(ours, sams, AUTHORIZER_EXTRAS)
    api_id, stage = fx.state["api_id"], fx.state["stage"]
    assert ours["type"] == "REQUEST"
    assert ours["methodArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/{stage}/GET/items/42"
    assert ours["resource"] == "/items/{id}"
    assert ours["path"] == "/items/42"
    assert ours["pathParameters"] == {"id": "42"}
    assert ours["queryStringParameters"] == {"q": "1"}
    assert ours["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


# --------------------------------------------------------------------------------------------- routing


def test_unknown_route_is_the_templates_404(fx_http: httpx.Client) -> None:
    response = fx_http.get("/no/such/route")
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "not_found"
    assert response.headers["X-Request-Id"] == body["error"]["request_id"]
    assert response.headers["x-amzn-RequestId"] == body["error"]["request_id"]
    assert response.headers["Content-Type"] == "application/json"


def test_a_method_the_resource_lacks_is_also_missing(fx_http: httpx.Client) -> None:
    assert fx_http.delete("/echo").status_code == 404
    assert fx_http.request("HEAD", "/items").status_code == 404


def test_real_template_unknown_route_and_provisioning(stack: LocalStack, http: httpx.Client) -> None:
    response = http.get("/v1/definitely-not-a-route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["request_id"] == response.headers["X-Request-Id"]
    assert stack.state["apis"]["Api"]["name"] == "filegate-local-api"
    outputs = stack.state["outputs"]
    assert outputs["KeysTableName"] == "filegate-local-KeysTable"
    assert outputs["ApiId"] == stack.state["api_id"]
    tables = aws("dynamodb", stack.moto_url).list_tables()["TableNames"]
    assert outputs["KeysTableName"] in tables


def test_static_segment_beats_a_path_parameter(fx_http: httpx.Client) -> None:
    event = fx_http.get("/items/special", headers=bearer(unique("allow-all"))).json()["event"]
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None
    event = fx_http.get("/items/7/", headers=bearer(unique("allow-all"))).json()["event"]
    assert event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "7"}


def test_greedy_path_and_any_method(fx_http: httpx.Client) -> None:
    event = fx_http.delete("/echo/a/b/c").json()["event"]
    assert event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_headers_and_query_multi_values(fx_http: httpx.Client) -> None:
    response = fx_http.get(
        "/echo?a=1&a=2&b=x%20y&empty",
        headers=[("X-Multi", "one"), ("X-Multi", "two")],  # type: ignore[arg-type]
    )
    event = response.json()["event"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert "Connection" not in event["headers"]  # hop-by-hop headers stop at the gateway
    # The function's response: headers and multiValueHeaders merged, API Gateway's own added.
    assert response.headers["X-Echo"] == "yes"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["x-amz-apigw-id"]


def test_source_ip_is_the_tcp_peer_not_x_forwarded_for(fx_http: httpx.Client) -> None:
    event = fx_http.get("/echo", headers={"X-Forwarded-For": "203.0.113.9"}).json()["event"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"


def test_binary_bodies_round_trip(fx_http: httpx.Client) -> None:
    payload = os.urandom(4096) + b"\x00\xff"
    for content_type in ("image/png", "application/octet-stream"):
        response = fx_http.post("/binary", content=payload, headers={"Content-Type": content_type})
        assert response.status_code == 200
        assert response.headers["X-Was-Base64"] == "true"
        assert response.content == payload
    response = fx_http.post("/binary", content=b"plain words", headers={"Content-Type": "text/plain"})
    assert response.headers["X-Was-Base64"] == "false"
    assert response.content == b"plain words"


def test_multipart_form_bodies_pass_through(fx_http: httpx.Client) -> None:
    data = bytes(range(256))
    response = fx_http.post("/echo/upload", files={"file": ("a.bin", data)}, data={"target": "png"})
    assert response.status_code == 200
    event = response.json()["event"]
    content_type = {k.lower(): v for k, v in event["headers"].items()}["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert event["isBase64Encoded"] is False  # multipart/form-data is not a binary type of this API
    assert 'name="target"' in event["body"]


# --------------------------------------------------------------------------------------------- authorizer


def test_missing_or_empty_identity_is_401_without_invoking(fx: LocalStack, fx_http: httpx.Client) -> None:
    before = fx.invocations("AuthorizerFunction")
    for headers in ({}, {"Authorization": ""}):
        response = fx_http.get("/items/1", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="test"'
        assert response.json()["error"]["code"] == "invalid_api_key"
    assert fx.invocations("AuthorizerFunction") == before


def test_unauthorized_exception_is_401_and_not_cached(fx: LocalStack, fx_http: httpx.Client) -> None:
    token = unique("nobody")
    before = fx.invocations("AuthorizerFunction")
    for _ in range(2):
        response = fx_http.get("/items/1", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["request_id"] == response.headers["X-Request-Id"]
    assert fx.invocations("AuthorizerFunction") == before + 2


def test_allowed_policy_is_cached_per_identity(fx: LocalStack, fx_http: httpx.Client) -> None:
    token = unique("allow-all")
    before = fx.invocations("AuthorizerFunction")
    first = fx_http.get("/items/1", headers=bearer(token))
    assert first.status_code == 200
    assert fx.invocations("AuthorizerFunction") == before + 1
    # Same identity, another route of the policy: served from the cache.
    second = fx_http.post("/items", headers=bearer(token), json={"x": 1})
    assert second.status_code == 200
    assert fx.invocations("AuthorizerFunction") == before + 1
    authorizer = second.json()["event"]["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "alice"
    assert authorizer["user"] == "alice"
    assert authorizer["n"] == "5"  # REST APIs hand context values to the integration as strings
    assert authorizer["flag"] == "true"
    assert authorizer["integrationLatency"] == 0  # a cache hit
    # Another identity (token) is a cache miss.
    fx_http.get("/items/1", headers=bearer(unique("allow-all")))
    assert fx.invocations("AuthorizerFunction") == before + 2


def test_source_ip_is_part_of_the_identity(fx: LocalStack) -> None:
    token = unique("allow-all")
    before = fx.invocations("AuthorizerFunction")
    for source in ("127.0.0.1", "127.0.0.7"):
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=fx.url, transport=transport, timeout=HTTP_TIMEOUT) as client:
            event = client.get("/items/1", headers=bearer(token)).json()["event"]
            assert event["requestContext"]["identity"]["sourceIp"] == source
    assert fx.invocations("AuthorizerFunction") == before + 2


def test_explicit_deny_renders_the_cached_context(fx: LocalStack, fx_http: httpx.Client) -> None:
    token = unique("deny-all")
    before = fx.invocations("AuthorizerFunction")
    for path in ("/items/1", "/items/2"):
        response = fx_http.get(path, headers=bearer(token))
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "insufficient_scope"
        assert error["message"] == "This key may not call GET /items/{id}."
        assert error["request_id"] == response.headers["X-Request-Id"]
    assert fx.invocations("AuthorizerFunction") == before + 1  # the Deny is cached too


def test_policy_is_evaluated_per_route(fx: LocalStack, fx_http: httpx.Client) -> None:
    token = unique("get-only")
    assert fx_http.get("/items/3", headers=bearer(token)).status_code == 200
    before = fx.invocations("AuthorizerFunction")
    denied = fx_http.post("/items", headers=bearer(token), json={})
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "This key may not call POST /items."
    assert fx.invocations("AuthorizerFunction") == before  # decided from the cached policy


def test_authorizer_failures_are_500(fx_http: httpx.Client) -> None:
    for token in ("crash", "malformed"):
        response = fx_http.get("/items/1", headers=bearer(unique(token)))
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"


# --------------------------------------------------------------------------------------------- functions


def test_function_context_environment_and_layers(fx: LocalStack, fx_http: httpx.Client) -> None:
    body = fx_http.get("/echo").json()
    context, env = body["context"], body["env"]
    assert context["function_name"] == "fixture-EchoFunction"
    assert context["memory_limit_in_mb"] == "384"
    assert context["invoked_function_arn"].endswith(":function:fixture-EchoFunction")
    assert context["log_group_name"] == "/aws/lambda/fixture-EchoFunction"
    assert 0 < context["remaining_ms"] <= 5000
    assert body["layer"] == "shared-layer"
    assert env["ECHO_NAME"] == "echo"
    assert env["PROCESSED_TABLE"] == "fixture-ProcessedTable"
    assert env["WORK_QUEUE_URL"] == f"{fx.moto_url}/123456789012/fixture-WorkQueue"
    assert env["WORK_QUEUE_NAME"] == "fixture-WorkQueue"
    assert env["FLAVOUR"] == "plain"
    assert env["DATA_BUCKET"] == "fixture-databucket"
    assert env["AWS_ENDPOINT_URL"] == fx.moto_url
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


def test_function_errors_are_502_through_default_5xx(fx_http: httpx.Client) -> None:
    for kind in ("raise", "malformed", "not-json", "exit"):
        response = fx_http.get(f"/faults/{kind}")
        assert response.status_code == 502, kind
        error = response.json()["error"]
        assert error["code"] == "internal_error"
        assert error["type"] == "DEFAULT_5XX"
        assert "Traceback" not in response.text


def test_a_crashed_worker_is_replaced(fx_http: httpx.Client) -> None:
    first = fx_http.get("/faults/ok").text
    assert fx_http.get("/faults/exit").status_code == 502
    pids = {fx_http.get("/faults/ok").text for _ in range(3)}
    assert all(p.startswith("pid=") for p in pids)
    assert first.startswith("pid=")


def test_function_timeout_kills_the_worker(fx: LocalStack, fx_http: httpx.Client) -> None:
    started = time.monotonic()
    response = fx_http.get("/faults/slow")
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert 1.8 <= elapsed < 6  # the template's Timeout is 2 s; the handler would sleep 10
    assert "Task timed out" not in response.text
    assert fx_http.get("/faults/ok").status_code == 200
    assert "Status: timeout" in fx.log_file("FaultsFunction").read_text()


def test_integration_timeout_is_504(fx_http: httpx.Client) -> None:
    response = fx_http.get("/short-integration")
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "INTEGRATION_TIMEOUT"


def test_function_output_goes_to_its_log_file_not_the_protocol(fx: LocalStack, fx_http: httpx.Client) -> None:
    response = fx_http.get("/faults/noisy")
    assert response.status_code == 200
    assert response.text.startswith("pid=")
    log = wait_for(lambda: (t := fx.log_file("FaultsFunction").read_text()) and "line two" in t and t)
    assert "line one to stdout" in log
    assert "line two to stderr" in log
    assert "START RequestId:" in log and "REPORT RequestId:" in log
    assert "echo handler printed this to stdout" in wait_for(
        lambda: (fx_http.get("/echo"), fx.log_file("EchoFunction").read_text())[1]
    )


# --------------------------------------------------------------------------------------------- robustness


def test_request_too_large_is_refused_before_the_body(fx: LocalStack) -> None:
    started = time.monotonic()
    head = (
        "POST /binary HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n"
    ).encode()
    raw = raw_http(fx.gateway.port if fx.gateway else 0, head)
    assert status_of(raw) == 413
    assert b'"file_too_large"' in raw
    assert time.monotonic() - started < 5


def test_request_too_large_with_expect_continue(fx_http: httpx.Client, fx: LocalStack) -> None:
    head = (
        f"POST /binary HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {11 * 1024 * 1024}\r\n\r\n"
    ).encode()
    raw = raw_http(fx.gateway.port if fx.gateway else 0, head)
    assert status_of(raw) == 413


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"GET /echo HTTP/9.9\r\n\r\n",
    ],
    ids=["garbage", "bad-length", "negative-length", "bad-header", "bad-chunk", "long-line", "bad-version"],
)
def test_malformed_http_gets_a_4xx_quickly(fx: LocalStack, payload: bytes) -> None:
    started = time.monotonic()
    raw = raw_http(fx.gateway.port if fx.gateway else 0, payload, shutdown_write=True)
    assert raw, "no answer"
    assert 400 <= status_of(raw) < 500 or status_of(raw) == 505
    assert time.monotonic() - started < 5


def test_truncated_body_does_not_hang(fx: LocalStack, fx_http: httpx.Client) -> None:
    payload = b"POST /binary HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"
    started = time.monotonic()
    raw = raw_http(fx.gateway.port if fx.gateway else 0, payload, shutdown_write=True)
    assert status_of(raw) == 400
    assert time.monotonic() - started < 5
    assert fx_http.get("/echo").status_code == 200  # and the gateway still serves


@pytest.mark.parametrize(
    "payload",
    [
        b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}",
        b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n{}",
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_that_stops_short_is_a_prompt_400(stack: LocalStack, payload: bytes) -> None:
    """The client keeps the connection open, waiting for an answer to a body it never finishes."""
    started = time.monotonic()
    raw = raw_http(stack.gateway.port if stack.gateway else 0, payload, timeout=10)
    assert time.monotonic() - started < 5
    assert status_of(raw) == 400
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "invalid_request"  # docs/api.md's error body, from DEFAULT_4XX
    assert body["error"]["request_id"]


def test_chunked_bodies_are_read(fx: LocalStack) -> None:
    payload = (
        b"POST /binary HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    raw = raw_http(fx.gateway.port if fx.gateway else 0, payload)
    assert status_of(raw) == 200
    assert raw.endswith(b"hello world")


# --------------------------------------------------------------------------------------------- SQS, provisioning


def test_sqs_event_source_with_partial_batch_failures(fx: LocalStack) -> None:
    sqs = aws("sqs", fx.moto_url)
    table = boto3.resource(
        "dynamodb",
        endpoint_url=fx.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(fx.state["outputs"]["ProcessedTableName"])
    queue_url = fx.state["outputs"]["WorkQueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName="fixture-WorkDeadLetterQueue")["QueueUrl"]
    tag = uuid.uuid4().hex[:8]
    ok = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=f"ok-{tag}",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "good"}},
    )["MessageId"]
    delayed = sqs.send_message(QueueUrl=queue_url, MessageBody=f"ok-late-{tag}", DelaySeconds=2)["MessageId"]
    bad = sqs.send_message(QueueUrl=queue_url, MessageBody=f"fail-{tag}")["MessageId"]

    def seen(message_id: str, count: int) -> dict[str, Any] | None:
        return table.get_item(Key={"message_id": f"{message_id}#{count}"}).get("Item")

    record = json.loads(wait_for(lambda: seen(ok, 1))["record"])
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:fixture-WorkQueue"
    assert record["awsRegion"] == "us-east-1"
    assert record["body"] == f"ok-{tag}"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "good"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["md5OfBody"]
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody"}
    wait_for(lambda: seen(delayed, 1))
    # The failed message comes back after the visibility timeout, then goes to the DLQ (maxReceiveCount 2).
    wait_for(lambda: seen(bad, 2), timeout=60)

    def dead_letters() -> list[dict[str, Any]]:
        found = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        return [m for m in found.get("Messages", []) if m["Body"] == f"fail-{tag}"]

    assert wait_for(dead_letters, timeout=60)

    def queue_empty() -> bool:
        counts = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(v == "0" for v in counts.values())

    assert wait_for(queue_empty, timeout=30)  # the successes were deleted


def test_dynamodb_stream_event_source_bisects_retries_in_order_and_filters(fx: LocalStack) -> None:
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=fx.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    changes = dynamodb.Table(fx.state["outputs"]["ChangesTableName"])
    processed = dynamodb.Table(fx.state["outputs"]["ProcessedTableName"])
    stream_arn = changes.meta.client.describe_table(TableName=changes.name)["Table"]["LatestStreamArn"]
    assert fx.state["outputs"]["ChangesStreamArn"] == stream_arn  # !GetAtt resolves to the real stream
    tag = uuid.uuid4().hex[:8]
    with changes.batch_writer() as batch:  # within the mapping's 2 s batching window: one batch
        batch.put_item(Item={"id": f"{tag}-1"})
        batch.put_item(Item={"id": f"{tag}-2", "mode": "raise", "times": 2})
        batch.put_item(Item={"id": f"{tag}-3"})
        batch.put_item(Item={"id": f"{tag}-4", "mode": "report", "times": 1})
        batch.put_item(Item={"id": f"{tag}-5"})

    def batches() -> list[list[str]]:
        item = processed.get_item(Key={"message_id": f"batches#{tag}"}, ConsistentRead=True).get("Item") or {}
        return [[i.split("-")[1] for i in ids] for ids in item.get("batches", [])]

    wait_for(lambda: len(batches()) >= 6, timeout=60)
    changes.put_item(Item={"id": f"{tag}-1", "modified": True})  # a MODIFY: the filter keeps it away
    changes.put_item(Item={"id": f"{tag}-6"})
    wait_for(lambda: len(batches()) >= 7, timeout=30)
    assert batches() == [
        ["1", "2", "3", "4", "5"],  # 2 raises: bisected
        ["1", "2", "3"],  # 2 raises again: bisected again
        ["1", "2"],  # 2's third delivery succeeds
        ["3"],
        ["4", "5"],  # 4 reported failed: the checkpoint stays at 4
        ["4", "5"],
        ["6"],
    ]


def test_provisioning_follows_the_template(fx: LocalStack) -> None:
    dynamodb, sqs, s3 = aws("dynamodb", fx.moto_url), aws("sqs", fx.moto_url), aws("s3", fx.moto_url)
    table = fx.state["outputs"]["ProcessedTableName"]
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at"
    attributes = sqs.get_queue_attributes(QueueUrl=fx.state["outputs"]["WorkQueueUrl"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == fx.state["outputs"]["DeadLetterQueueArn"]
    assert int(redrive["maxReceiveCount"]) == 2
    assert attributes["Attributes"]["VisibilityTimeout"] == "2"
    rules = s3.get_bucket_lifecycle_configuration(Bucket="fixture-databucket")["Rules"]
    assert rules[0]["Expiration"]["Days"] == 1
    assert s3.get_public_access_block(Bucket="fixture-databucket")["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    queues = sqs.list_queues().get("QueueUrls", [])
    assert not any("FancyOnlyQueue" in q for q in queues)  # its Condition is false
    state = fx.state
    assert state["resources"]["WorkQueue"]["arn"] == "arn:aws:sqs:us-east-1:123456789012:fixture-WorkQueue"
    assert "FancyOnlyQueue" not in state["resources"]
    assert json.loads(Path(state["state_dir"], "stack.json").read_text())["api_url"] == fx.url


# --------------------------------------------------------------------------------------------- CLI


def test_cli_serves_then_stops_everything_on_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    command = [
        str(ROOT / ".venv" / "bin" / "python"), "-m", "filegate_local",
        "--template", str(FIXTURES / "template.yaml"), "--port", "0", "--moto-port", "0",
        "--state-dir", str(state_dir), "--stack-name", "clitest", "--param", "Flavour=fancy",
        "--env", "ECHO_NAME=from-cli", "--no-echo-logs",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        state_file = state_dir / "stack.json"
        wait_for(state_file.exists, timeout=60)
        state = json.loads(state_file.read_text())
        body = httpx.get(state["api_url"] + "/echo", timeout=HTTP_TIMEOUT).json()
        assert body["env"]["ECHO_NAME"] == "from-cli"
        assert body["env"]["FLAVOUR"] == "fancy!"  # --param reached the template's !If
        assert "FancyOnlyQueue" in state["resources"]
        assert state["outputs"]["ProcessedTableName"] == "clitest-ProcessedTable"
        children = child_pids(process.pid)
        assert len(children) >= 2  # moto and at least the echo worker
        process.send_signal(15)
        assert process.wait(timeout=20) == 0
        assert all(process_gone(pid) for pid in children)
        assert not state_file.exists()
        assert b"curl -s -X POST" in (process.stderr.read() if process.stderr else b"")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------------------------- lifecycle


def _cli(state_dir: Path, port: int, moto_port: int) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "python"), "-m", "filegate_local",
        "--template", str(FIXTURES / "template.yaml"), "--port", str(port), "--moto-port", str(moto_port),
        "--state-dir", str(state_dir), "--stack-name", "lifecycle", "--no-echo-logs",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra")}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _wait_up(process: subprocess.Popen[bytes], state_dir: Path) -> dict[str, Any]:
    state_file = state_dir / "stack.json"

    def up() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"filegate-local exited with {process.returncode}: {stderr}")
        return state_file.exists()

    wait_for(up, timeout=60)
    return json.loads(state_file.read_text())  # type: ignore[no-any-return]


def _leave_time_wait(port: int) -> None:
    """Leave a TIME_WAIT connection on a server port, as a stopped stack does for a minute."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end (our port) goes to TIME_WAIT
        client.close()


def _get_ignoring_errors(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=HTTP_TIMEOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def test_restart_on_the_same_ports_and_a_second_instance_is_refused(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    for taken in (port, moto_port):
        _leave_time_wait(taken)
    first = _cli(tmp_path / "state", port, moto_port)
    try:
        _wait_up(first, tmp_path / "state")  # TIME_WAIT is not "in use"
        assert httpx.get(f"http://127.0.0.1:{port}/echo", timeout=HTTP_TIMEOUT).status_code == 200

        second = _cli(tmp_path / "state", port, moto_port)
        try:
            assert second.wait(timeout=30) != 0
            stderr = (second.stderr.read() if second.stderr else b"").decode()
            assert len(stderr.strip().splitlines()) == 1, stderr
            assert f"already running (pid {first.pid})" in stderr
        finally:
            _stop(second)
        assert first.poll() is None  # the refused second one did not disturb the first

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        again = _cli(tmp_path / "state", port, moto_port)  # right away, on the same ports
        try:
            _wait_up(again, tmp_path / "state")
            assert httpx.get(f"http://127.0.0.1:{port}/echo", timeout=HTTP_TIMEOUT).status_code == 200
            children = child_pids(again.pid)
            again.send_signal(signal.SIGINT)  # Ctrl-C
            assert again.wait(timeout=20) == 0
            assert all_gone_within(children, [port, moto_port], 5)
        finally:
            _stop(again)
    finally:
        _stop(first)


def test_a_killed_stack_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    process = _cli(tmp_path / "state", port, moto_port)
    try:
        _wait_up(process, tmp_path / "state")
        assert httpx.get(f"http://127.0.0.1:{port}/echo", timeout=HTTP_TIMEOUT).status_code == 200
        # A worker in the middle of a 10 s invocation when its parent dies.
        threading.Thread(
            target=_get_ignoring_errors, args=(f"http://127.0.0.1:{port}/faults/slow",), daemon=True
        ).start()
        wait_for(lambda: len(child_pids(process.pid)) >= 3)  # moto, the echo and the faults workers
        time.sleep(0.3)
        children = child_pids(process.pid)
        process.kill()  # SIGKILL: no chance to clean up
        process.wait()
        assert all_gone_within(children, [port, moto_port], 5)
    finally:
        _stop(process)
