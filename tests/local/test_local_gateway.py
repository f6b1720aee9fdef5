"""The local API Gateway's request path (filegate_local.gateway.ApiGateway) on template.yaml's own API, in
this process: the functions are stand-ins that record the events they get and answer as told, so every
gateway decision (route, throttle, authorizer and its cache, policy, proxy response, gateway response) is
seen without moto or workers. The events are held against `sam local generate-event`'s.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from filegate_local.events import IncomingRequest
from filegate_local.gateway import INTEGRATION_TIMEOUT, ApiGateway, Gateway, policy_allows
from filegate_local.model import build_model
from filegate_local.template import Template
from filegate_local.workers import Invocation
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]
MODEL = build_model(Template(ROOT / "template.yaml", stack_name="gw"))
API = MODEL.apis["Api"]
ARN_PREFIX = f"arn:aws:execute-api:us-east-1:123456789012:{API.api_id}/{API.stage}"
Reply = Callable[[str, dict[str, Any]], Invocation]


def allow(*resources: str, effect: str = "Allow", **context: Any) -> Invocation:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": list(resources)}],
    }
    return Invocation("a", "ok", {"principalId": "key-1", "policyDocument": policy, "context": context})


def ok(body: str = "{}", **extra: Any) -> Invocation:
    return Invocation("f", "ok", {"statusCode": 200, "body": body, **extra})


class Functions:
    """Stand-ins for the template's functions: each call recorded, answered by `reply` (or a 200)."""

    def __init__(self, reply: Reply | None = None, authorizer: Invocation | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply = reply or (lambda _f, _e: ok())
        self.authorizer = authorizer or allow(f"{ARN_PREFIX}/*/*", key_id="key-1", n=5, flag=True)

    def __call__(self, function: str, event: dict[str, Any], _timeout: float | None) -> Invocation:
        self.calls.append((function, event))
        return self.authorizer if function == "AuthorizerFunction" else self.reply(function, event)

    def count(self, function: str) -> int:
        return sum(1 for f, _ in self.calls if f == function)

    def last(self) -> dict[str, Any]:
        return self.calls[-1][1]


def request(
    method: str, path: str, *, key: str | None = "fg_key", ip: str = "198.51.100.1", **kw: Any
) -> IncomingRequest:
    headers = [("Host", "api.example"), ("User-Agent", "Custom User Agent String"), *kw.pop("headers", [])]
    if key is not None:
        headers.append(("Authorization", f"Bearer {key}"))
    return IncomingRequest(method, path, kw.pop("query", ""), headers, kw.pop("body", b""), ip, 443, **kw)


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.body)["error"]
    return body


# --------------------------------------------------------------------------------------------- routes


def test_unknown_routes_and_missing_methods_are_the_templates_404() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    for method, path in (
        ("GET", "/v1/no-such-route"),
        ("DELETE", "/dashboard/usage"),
        ("BREW", "/v1/health"),
        ("GET", "/"),
    ):
        response = gateway.answer(request(method, path))
        assert (response.status, response.answered_by, error(response)["code"]) == (404, "gateway", "not_found")
        assert dict(response.headers)["X-Request-Id"] == error(response)["request_id"]
    assert functions.calls == []


@pytest.mark.parametrize(
    ("method", "path", "function", "resource", "parameters"),
    [
        ("POST", "/v1/keys/rotate", "KeysFunction", "/v1/keys/rotate", None),  # a literal beats {id}
        ("POST", "/v1/keys/k1/rotate", "KeysFunction", "/v1/keys/{id}/rotate", {"id": "k1"}),
        ("GET", "/v1/files/f1/content/", "FilesFunction", "/v1/files/{id}/content", {"id": "f1"}),
        ("PUT", "/v1/files/f1", "FilesFunction", "/v1/files/{id}", {"id": "f1"}),  # ANY: the function's 405
        ("GET", "/dashboard/a/b/c", "DashboardFunction", "/dashboard/{proxy+}", {"proxy": "a/b/c"}),
        ("GET", "/dashboard/static/app.css", "DashboardFunction", "/dashboard/static/{name}", {"name": "app.css"}),
    ],
)
def test_the_most_specific_resource_wins(
    method: str, path: str, function: str, resource: str, parameters: dict[str, str] | None
) -> None:
    functions = Functions()
    response = ApiGateway(API, functions).answer(request(method, path))
    assert (response.status, response.answered_by) == (200, function)
    event = functions.last()
    assert (event["resource"], event["pathParameters"], event["httpMethod"]) == (resource, parameters, method)


def test_the_stages_throttling_answers_429_rate_limited() -> None:
    model = build_model(
        Template(ROOT / "template.yaml", parameter_overrides={"ThrottlingBurstLimit": "2", "ThrottlingRateLimit": "0"})
    )
    gateway = ApiGateway(model.apis["Api"], Functions())
    statuses = [gateway.answer(request("GET", "/v1/health")).status for _ in range(3)]
    refused = gateway.answer(request("GET", "/v1/health"))
    assert statuses == [200, 200, 429] and error(refused)["code"] == "rate_limited"


# --------------------------------------------------------------------------------------------- authorizer


def test_a_missing_or_empty_key_is_401_without_invoking_the_authorizer() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    for headers in ([], [("Authorization", "")]):
        response = gateway.answer(request("GET", "/v1/keys", key=None, headers=headers))
        assert (response.status, error(response)["code"]) == (401, "invalid_api_key")
        assert dict(response.headers)["WWW-Authenticate"] == 'Bearer realm="filegate"'
    assert functions.calls == []


def test_an_allowing_reply_is_cached_per_key_and_source_ip_for_every_route() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    assert gateway.answer(request("GET", "/v1/keys")).status == 200
    assert gateway.answer(request("POST", "/v1/files", body=b"{}")).status == 200  # another route, from the cache
    authorizer = functions.last()["requestContext"]["authorizer"]
    assert authorizer == {"principalId": "key-1", "integrationLatency": 0, "key_id": "key-1", "n": "5", "flag": "true"}
    assert functions.count("AuthorizerFunction") == 1
    gateway.answer(request("GET", "/v1/keys", ip="198.51.100.2"))
    gateway.answer(request("GET", "/v1/keys", key="fg_other"))
    assert functions.count("AuthorizerFunction") == 3
    uncached = ApiGateway(API, functions, cache_authorizer=False)
    uncached.answer(request("GET", "/v1/keys"))
    uncached.answer(request("GET", "/v1/keys"))
    assert functions.count("AuthorizerFunction") == 5


def test_unauthorized_is_401_and_not_cached() -> None:
    refused = Invocation("a", "error", error={"errorType": "Exception", "errorMessage": "Unauthorized"})
    functions = Functions(authorizer=refused)
    gateway = ApiGateway(API, functions)
    assert [gateway.answer(request("GET", "/v1/keys")).status for _ in range(2)] == [401, 401]
    assert functions.count("AuthorizerFunction") == 2 and functions.count("KeysFunction") == 0


def test_a_policy_is_checked_for_each_route_and_a_deny_renders_the_callers_context() -> None:
    functions = Functions(authorizer=allow(f"{ARN_PREFIX}/GET/v1/keys", f"{ARN_PREFIX}/*/v1/files/*"))
    gateway = ApiGateway(API, functions)
    assert gateway.answer(request("GET", "/v1/keys")).status == 200
    assert gateway.answer(request("DELETE", "/v1/files/f1")).status == 200
    denied = gateway.answer(request("POST", "/v1/keys", body=b"{}"))
    assert (denied.status, error(denied)["code"]) == (403, "insufficient_scope")
    assert error(denied)["message"] == "This key may not call POST /v1/keys."
    assert functions.count("AuthorizerFunction") == 1  # decided from the cached policy
    deny = Functions(authorizer=allow(f"{ARN_PREFIX}/*/*", effect="Deny"))
    assert ApiGateway(API, deny).answer(request("GET", "/v1/keys")).status == 403


def test_the_policy_check_honours_allow_and_deny_of_the_authorizers_shape() -> None:
    def policy(*statements: tuple[str, str]) -> dict[str, Any]:
        return {"Statement": [{"Effect": e, "Action": "execute-api:Invoke", "Resource": r} for e, r in statements]}

    arn = f"{ARN_PREFIX}/GET/v1/keys/k1"
    assert policy_allows(policy(("Allow", f"{ARN_PREFIX}/*/*")), arn)  # `*` spans slashes
    assert policy_allows(policy(("Allow", f"{ARN_PREFIX}/GET/v1/keys/*")), arn)
    assert not policy_allows(policy(("Allow", f"{ARN_PREFIX}/POST/*")), arn)  # nothing matches: refused
    assert not policy_allows(policy(("Allow", f"{ARN_PREFIX}/*/*"), ("Deny", f"{ARN_PREFIX}/GET/*")), arn)
    assert not policy_allows(policy(("Allow", f"{ARN_PREFIX}/get/v1/keys/k1")), arn)  # case-sensitive


@pytest.mark.parametrize(
    "reply",
    [
        Invocation("a", "crash", error={"errorType": "Runtime.ExitError"}),
        Invocation("a", "ok", {"principalId": "p"}),  # no policy
        Invocation("a", "ok", {"policyDocument": {"Statement": []}}),
        allow(f"{ARN_PREFIX}/*/*", nested={"no": "objects"}),
        Invocation(
            "a",
            "ok",
            {
                "principalId": "p",
                "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
            },
        ),
    ],
    ids=["crash", "no-policy", "no-principal", "object-in-context", "other-action"],
)
def test_an_authorizer_that_fails_or_replies_badly_is_500(reply: Invocation) -> None:
    response = ApiGateway(API, Functions(authorizer=reply)).answer(request("GET", "/v1/keys"))
    assert (response.status, error(response)["code"]) == (500, "internal_error")


# --------------------------------------------------------------------------------------------- integration


@pytest.mark.parametrize(
    "reply",
    [
        Invocation("f", "error", error={"errorType": "ValueError"}),
        Invocation("f", "timeout"),
        Invocation("f", "ok", {"statusCode": "two hundred"}),
        Invocation("f", "ok", {"statusCode": 200, "body": {"not": "a string"}}),
        Invocation("f", "ok", {"statusCode": 200, "headers": {"X": ["a"]}}),
        Invocation("f", "ok", {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"}),
        Invocation("f", "ok", ["not", "an", "object"]),
    ],
)
def test_a_failing_function_or_a_malformed_reply_is_502(reply: Invocation) -> None:
    response = ApiGateway(API, Functions(lambda _f, _e: reply)).answer(request("GET", "/v1/health"))
    assert (response.status, error(response)["code"], response.answered_by) == (502, "internal_error", "gateway")


def test_a_function_slower_than_the_integration_timeout_is_504() -> None:
    response = ApiGateway(API, Functions(lambda _f, _e: Invocation("f", INTEGRATION_TIMEOUT))).answer(
        request("GET", "/v1/health")
    )
    assert response.status == 504


def test_the_proxy_reply_becomes_the_answer_and_over_http_reserved_headers_are_remapped() -> None:
    reply = ok(
        base64.b64encode(b"\x89PNG\x00").decode(),
        isBase64Encoded=True,
        headers={"X-One": "1", "WWW-Authenticate": "Bearer", "Content-Length": "999"},
        multiValueHeaders={"Set-Cookie": ["a=1", "b=2"]},
    )
    functions = Functions(lambda _f, _e: reply)
    answer = ApiGateway(API, functions).answer(request("GET", "/v1/health"))
    assert (answer.status, answer.body, answer.answered_by) == (200, b"\x89PNG\x00", functions.calls[0][0])
    assert [h for h in answer.headers if h[0] == "Set-Cookie"] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert ("Content-Type", "application/json") in answer.headers and "Content-Length" not in dict(answer.headers)

    class Pool:
        def submit(self, _event: dict[str, Any], _request_id: str) -> Future[Invocation]:
            done: Future[Invocation] = Future()
            done.set_result(reply)
            return done

    http = Gateway(MODEL, {answer.answered_by: Pool()}).handle(request("GET", "/v1/health"))  # type: ignore[dict-item]
    headers = dict(http.headers)
    assert headers["x-amzn-Remapped-WWW-Authenticate"] == "Bearer" and "WWW-Authenticate" not in headers
    assert headers["X-One"] == "1" and headers["x-amzn-RequestId"]


def test_the_gateways_own_answer_keeps_its_headers_over_http() -> None:
    http = Gateway(MODEL, {}).handle(request("GET", "/v1/keys", key=None))
    assert dict(http.headers)["WWW-Authenticate"] == 'Bearer realm="filegate"'


def test_bodies_reach_the_function_in_base64_whatever_their_type() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    payload = os.urandom(64) + b"\x00\xff"
    for content_type in ("image/png", "application/json", "multipart/form-data; boundary=x"):
        gateway.answer(request("POST", "/v1/files", body=payload, headers=[("Content-Type", content_type)]))
        assert functions.last()["isBase64Encoded"] is True  # BinaryMediaTypes */*: every type is binary
        assert base64.b64decode(functions.last()["body"]) == payload
    gateway.answer(request("POST", "/v1/files", body=b"words"))  # no Content-Type: text
    assert (functions.last()["body"], functions.last()["isBase64Encoded"]) == ("words", False)


def test_headers_query_and_source_ip_as_api_gateway_hands_them_on() -> None:
    functions = Functions()
    headers = [("X-Multi", "one"), ("X-Multi", "two"), ("X-Forwarded-For", "203.0.113.9"), ("Connection", "close")]
    ApiGateway(API, functions).answer(request("GET", "/v1/health", query="a=1&a=2&b=x%20y&empty", headers=headers))
    event = functions.last()
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert (event["headers"]["X-Multi"], event["multiValueHeaders"]["X-Multi"]) == ("two", ["one", "two"])
    assert "Connection" not in event["headers"]  # hop-by-hop headers stop at the gateway
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 198.51.100.1"
    assert event["requestContext"]["identity"]["sourceIp"] == "198.51.100.1"  # the TCP peer, not the header
    assert "authorizer" not in event["requestContext"]  # a public route


# --------------------------------------------------------------------------------------------- SAM's shapes

# Fields real API Gateway events carry that sam's sample events leave out.
PROXY_EXTRAS = {
    "requestContext": {"extendedRequestId", "domainPrefix", "domainName", "deploymentId", "authorizer"},
    "requestContext.identity": {"principalOrgId", "apiKey", "clientCert"},
}
AUTHORIZER_EXTRAS = {
    "": {"multiValueHeaders", "multiValueQueryStringParameters"},
    "requestContext": {"extendedRequestId", "requestTime", "requestTimeEpoch", "protocol", "domainPrefix", "domainName", "deploymentId"},
    "requestContext.identity": {
        "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "principalOrgId", "accessKey",
        "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent", "user",
    },
}  # fmt: skip
# Null without a feature this API does not use (API keys, mutual TLS, stage variables), as in AWS.
NULL_WITHOUT_FEATURE = {"requestContext.identity.apiKey", "requestContext.identity.clientCert", "stageVariables"}
# Free-form maps: their keys are the request's own, only their value types count.
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
            expected = type(next(iter(sams.values()))) if sams else object
            assert all(isinstance(v, expected) for v in ours.values()), f"{path}: values are not {expected}"
            return
        assert not set(sams) - set(ours), f"{path or '<event>'} lacks {sorted(set(sams) - set(ours))}"
        unexpected = set(ours) - set(sams) - extras.get(path, set())
        assert not unexpected, f"{path or '<event>'} has fields sam's event lacks: {sorted(unexpected)}"
        for key, value in sams.items():
            child = f"{path}.{key}" if path else key
            if value is not None and not (ours[key] is None and child in NULL_WITHOUT_FEATURE):
                assert_same_shape(ours[key], value, extras, child)
    elif isinstance(sams, list):
        assert isinstance(ours, list), f"{path}: {type(ours).__name__}, sam has a list"
        if sams and ours:
            assert_same_shape(ours[0], sams[0], extras, path)
    else:
        assert type(ours) is type(sams), f"{path}: {type(ours).__name__}, sam has {type(sams).__name__}"


def test_the_proxy_and_authorizer_events_have_the_shapes_sam_generates() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    headers = [("Content-Type", "application/octet-stream")]
    gateway.answer(request("POST", "/v1/files/f1/complete", query="foo=bar", body=b'{"test":"body"}', headers=headers))
    (_, authorizer_event), (_, proxy) = functions.calls
    assert_same_shape(proxy, sam_event("apigateway", "aws-proxy"), PROXY_EXTRAS)
    assert_same_shape(authorizer_event, sam_event("apigateway", "request-authorizer"), AUTHORIZER_EXTRAS)
    assert authorizer_event["methodArn"] == f"{ARN_PREFIX}/POST/v1/files/f1/complete"
    assert (authorizer_event["type"], authorizer_event["resource"]) == ("REQUEST", "/v1/files/{id}/complete")
    context = proxy["requestContext"]
    assert (context["stage"], context["path"], context["apiId"]) == (
        API.stage,
        "/prod/v1/files/f1/complete",
        API.api_id,
    )
    assert uuid.UUID(context["requestId"]).version == 4
    assert context["identity"]["userAgent"] == "Custom User Agent String"
