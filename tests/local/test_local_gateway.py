"""The local API Gateway's request path (filegate_local.gateway.ApiGateway) on template.yaml's own API, in this
process: stand-in functions record the events they get and answer as told, so every gateway decision is seen
without moto or workers. The events are held against `sam local generate-event`'s.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from filegate_local.events import IncomingRequest
from filegate_local.gateway import INTEGRATION_TIMEOUT, ApiGateway, Gateway, HttpResponse
from filegate_local.model import build_model
from filegate_local.template import Template
from filegate_local.workers import Invocation
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]
MODEL = build_model(Template(ROOT / "template.yaml", stack_name="gw"))
API = MODEL.apis["Api"]
ARN = f"arn:aws:execute-api:us-east-1:123456789012:{API.api_id}/{API.stage}"
OK = Invocation("f", "ok", {"statusCode": 200, "body": "{}"})


def allow(*resources: str, effect: str = "Allow", **context: Any) -> Invocation:
    policy = {"Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": list(resources)}]}
    return Invocation("a", "ok", {"principalId": "key-1", "policyDocument": policy, "context": context})


class Functions:
    """Stand-ins for the template's functions: each call recorded, answered with `reply` (the authorizer's)."""

    def __init__(self, reply: Invocation = OK, authorizer: Invocation | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply, self.authorizer = reply, authorizer or allow(f"{ARN}/*/*", key_id="key-1", n=5, flag=True)

    def __call__(self, function: str, event: dict[str, Any], _timeout: float | None) -> Invocation:
        self.calls.append((function, event))
        return self.authorizer if function == "AuthorizerFunction" else self.reply

    def count(self, function: str) -> int:
        return [f for f, _ in self.calls].count(function)


def request(
    method: str, path: str, *, key: str | None = "fg_key", ip: str = "198.51.100.1", **kw: Any
) -> IncomingRequest:
    headers = [("Host", "api.example"), ("User-Agent", "Custom User Agent String"), *kw.pop("headers", [])]
    headers += [("Authorization", f"Bearer {key}")] if key is not None else []
    return IncomingRequest(method, path, kw.pop("query", ""), headers, kw.pop("body", b""), ip, 443, **kw)


def answer(method: str, path: str, functions: Functions | None = None, **kw: Any) -> tuple[HttpResponse, Any]:
    """The gateway's answer and its error body (None when it is not one)."""
    response = ApiGateway(API, functions or Functions()).answer(request(method, path, **kw))
    return response, json.loads(response.body).get("error") if response.answered_by == "gateway" else None


@pytest.mark.parametrize(
    ("method", "path", "resource", "parameters"),
    [
        ("POST", "/v1/keys/rotate", "/v1/keys/rotate", None),  # a literal segment beats {id}
        ("POST", "/v1/keys/k1/rotate", "/v1/keys/{id}/rotate", {"id": "k1"}),
        ("GET", "/v1/files/f1/content/", "/v1/files/{id}/content", {"id": "f1"}),
        ("PUT", "/v1/files/f1", "/v1/files/{id}", {"id": "f1"}),  # its ANY event: the function's 405
        ("GET", "/dashboard/a/b/c", "/dashboard/{proxy+}", {"proxy": "a/b/c"}),
        ("GET", "/dashboard/static/app.css", "/dashboard/static/{name}", {"name": "app.css"}),
        *[(m, p, None, None) for m, p in (("GET", "/v1/nope"), ("DELETE", "/dashboard/usage"), ("BREW", "/v1/health"))],
    ],
)
def test_the_most_specific_resource_wins_and_no_route_is_the_templates_404(
    method: str, path: str, resource: str | None, parameters: dict[str, str] | None
) -> None:
    functions = Functions()
    response, error = answer(method, path, functions)
    if resource is None:
        assert (response.status, error["code"], functions.calls) == (404, "not_found", [])
        assert dict(response.headers)["X-Request-Id"] == error["request_id"]
    else:
        function, event = functions.calls[-1]
        assert (response.status, response.answered_by, event["httpMethod"]) == (200, function, method)
        assert (event["resource"], event["pathParameters"]) == (resource, parameters)


def test_the_stages_throttling_answers_429_rate_limited() -> None:
    overrides = {"ThrottlingBurstLimit": "2", "ThrottlingRateLimit": "0"}
    gateway = ApiGateway(
        build_model(Template(ROOT / "template.yaml", parameter_overrides=overrides)).apis["Api"], Functions()
    )
    answers = [gateway.answer(request("GET", "/v1/health")) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429] and b'"rate_limited"' in answers[2].body


def test_the_authorizer_is_asked_once_per_key_and_source_ip_and_its_context_reaches_functions_as_strings() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    for headers in ([], [("Authorization", "")]):  # no key: 401 without asking the authorizer
        refused = gateway.answer(request("GET", "/v1/keys", key=None, headers=headers))
        assert (refused.status, dict(refused.headers)["WWW-Authenticate"]) == (401, 'Bearer realm="filegate"')
    assert functions.calls == []
    assert gateway.answer(request("GET", "/v1/keys")).status == 200
    assert gateway.answer(request("POST", "/v1/files", body=b"{}")).status == 200  # another route, from the cache
    authorizer = functions.calls[-1][1]["requestContext"]["authorizer"]
    assert authorizer == {"principalId": "key-1", "integrationLatency": 0, "key_id": "key-1", "n": "5", "flag": "true"}
    gateway.answer(request("GET", "/v1/keys", ip="198.51.100.2"))
    gateway.answer(request("GET", "/v1/keys", key="fg_other"))
    assert functions.count("AuthorizerFunction") == 3
    uncached = ApiGateway(API, functions, cache_authorizer=False)
    assert [uncached.answer(request("GET", "/v1/keys")).status for _ in range(2)] == [200, 200]
    assert functions.count("AuthorizerFunction") == 5


def test_unauthorized_is_401_and_not_cached() -> None:
    functions = Functions(authorizer=Invocation("a", "error", error={"errorMessage": "Unauthorized"}))
    gateway = ApiGateway(API, functions)
    assert [gateway.answer(request("GET", "/v1/keys")).status for _ in range(2)] == [401, 401]
    assert functions.count("AuthorizerFunction") == 2 and functions.count("KeysFunction") == 0


@pytest.mark.parametrize(
    ("resources", "allowed"),
    [
        ((f"{ARN}/GET/v1/keys", f"{ARN}/*/v1/files/*"), [True, True, False]),  # `*` spans slashes
        ((f"{ARN}/get/v1/keys", f"{ARN}/DELETE/v1/files/f1"), [False, True, False]),  # case-sensitive
        ((f"{ARN}/POST/nothing",), [False, False, False]),  # nothing matches: refused
    ],
)
def test_a_cached_policy_is_checked_for_each_route_and_a_deny_renders_the_callers_context(
    resources: tuple[str, ...], allowed: list[bool]
) -> None:
    functions = Functions(authorizer=allow(*resources))
    gateway = ApiGateway(API, functions)
    calls = [("GET", "/v1/keys"), ("DELETE", "/v1/files/f1"), ("POST", "/v1/keys")]
    answers = [gateway.answer(request(method, path)) for method, path in calls]
    assert [a.status for a in answers] == [200 if ok else 403 for ok in allowed]
    assert json.loads(answers[2].body)["error"]["message"] == "This key may not call POST /v1/keys."
    assert functions.count("AuthorizerFunction") == 1
    deny = Functions(authorizer=allow(f"{ARN}/*/*", effect="Deny"))
    assert answer("GET", "/v1/keys", deny)[0].status == 403


@pytest.mark.parametrize(
    "reply",
    [
        Invocation("a", "crash", error={"errorType": "Runtime.ExitError"}),
        Invocation("a", "ok", {"principalId": "p"}),  # no policy
        Invocation("a", "ok", {"policyDocument": {"Statement": []}}),  # no principal
        allow(f"{ARN}/*/*", nested={"no": "objects"}),
        Invocation(
            "a",
            "ok",
            {
                "principalId": "p",
                "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
            },
        ),
    ],
)
def test_an_authorizer_that_fails_or_replies_badly_is_500(reply: Invocation) -> None:
    response, error = answer("GET", "/v1/keys", Functions(authorizer=reply))
    assert (response.status, error["code"]) == (500, "internal_error")


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Invocation("f", "error", error={"errorType": "ValueError"}), 502),
        (Invocation("f", "timeout"), 502),  # the function's own Timeout
        (Invocation("f", "ok", {"statusCode": "two hundred"}), 502),
        (Invocation("f", "ok", {"statusCode": 200, "body": {"not": "a string"}}), 502),
        (Invocation("f", "ok", {"statusCode": 200, "headers": {"X": ["a"]}}), 502),
        (Invocation("f", "ok", {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"}), 502),
        (Invocation("f", "ok", ["not", "an", "object"]), 502),
        (Invocation("f", INTEGRATION_TIMEOUT), 504),  # slower than the route's 29 s
        (Invocation("f", "too_large"), 413),  # over Lambda's invoke payload limit
    ],
)
def test_a_failing_function_or_a_malformed_reply_is_the_gateways_own_answer(reply: Invocation, status: int) -> None:
    response, error = answer("GET", "/v1/health", Functions(reply))
    assert (response.status, response.answered_by) == (status, "gateway") and error["request_id"]


def test_the_proxy_reply_becomes_the_answer_and_over_http_reserved_headers_are_remapped() -> None:
    headers = {"X-One": "1", "WWW-Authenticate": "Bearer", "Content-Length": "999"}
    body = base64.b64encode(b"\x89PNG\x00").decode()
    multi = {"Set-Cookie": ["a=1", "b=2"]}
    reply = Invocation(
        "f",
        "ok",
        {"statusCode": 201, "body": body, "isBase64Encoded": True, "headers": headers, "multiValueHeaders": multi},
    )
    response, _ = answer("GET", "/v1/health", Functions(reply))
    assert (response.status, response.body, response.answered_by) == (201, b"\x89PNG\x00", "KeysFunction")
    assert [h for h in response.headers if h[0] == "Set-Cookie"] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert ("Content-Type", "application/json") in response.headers and "Content-Length" not in dict(response.headers)
    done: Future[Invocation] = Future()
    done.set_result(reply)
    pool = type("Pool", (), {"submit": lambda *_: done})()
    with Gateway(MODEL, {"KeysFunction": pool}) as gateway:
        over_http = dict(gateway.handle(request("GET", "/v1/health")).headers)
        assert over_http["x-amzn-Remapped-WWW-Authenticate"] == "Bearer" and "WWW-Authenticate" not in over_http
        assert over_http["X-One"] == "1" and over_http["x-amzn-RequestId"]
        own = dict(gateway.handle(request("GET", "/v1/keys", key=None)).headers)  # the gateway's keeps its own
        assert own["WWW-Authenticate"] == 'Bearer realm="filegate"'


def test_bodies_headers_query_and_source_ip_reach_the_function_as_api_gateway_hands_them_on() -> None:
    functions = Functions()
    gateway = ApiGateway(API, functions)
    payload = os.urandom(64) + b"\x00\xff"
    for content_type in ("image/png", "application/json", "multipart/form-data; boundary=x"):
        gateway.answer(request("POST", "/v1/files", body=payload, headers=[("Content-Type", content_type)]))
        event = functions.calls[-1][1]  # BinaryMediaTypes */*: every type is binary
        assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == payload
    headers = [("X-Multi", "one"), ("x-multi", "two"), ("X-Forwarded-For", "203.0.113.9"), ("Connection", "close")]
    gateway.answer(request("GET", "/v1/health", query="a=1&a=2&b=x%20y&empty", headers=headers, body=b"words"))
    event = functions.calls[-1][1]
    assert (event["body"], event["isBase64Encoded"]) == ("words", False)  # no Content-Type: text
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert (event["headers"]["X-Multi"], event["multiValueHeaders"]["X-Multi"]) == ("two", ["one", "two"])
    assert "Connection" not in event["headers"]  # hop-by-hop headers stop at the gateway
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 198.51.100.1"
    assert event["requestContext"]["identity"]["sourceIp"] == "198.51.100.1"  # the TCP peer, not the header
    assert "authorizer" not in event["requestContext"]  # a public route


# Free-form maps (their keys are the request's own: only their values' type counts), and fields null without a
# feature this API does not use (mutual TLS, API keys, stage variables), as in AWS.
FREE_FORM = {"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"}
FREE_FORM |= {"pathParameters", "stageVariables", "requestContext.authorizer", "requestContext.identity.clientCert"}
NULL_WITHOUT_FEATURE = {"requestContext.identity.apiKey", "requestContext.identity.clientCert", "stageVariables"}


def fields(event: dict[str, Any], path: str = "") -> dict[str, str]:
    """Each field's dotted path and type name (a free-form map's: its values')."""
    found: dict[str, str] = {}
    for key, value in event.items():
        if isinstance(value, dict) and f"{path}{key}" not in FREE_FORM:
            found |= fields(value, f"{path}{key}.")
        else:
            found[f"{path}{key}"] = type(
                next(iter(value.values()), None) if isinstance(value, dict) else value
            ).__name__
    return found


def assert_same_shape(ours: dict[str, Any], sams: dict[str, Any], extras: set[str]) -> None:
    mine, theirs = fields(ours), fields(sams)
    assert theirs.keys() <= mine.keys() and mine.keys() - theirs.keys() <= extras, mine.keys() ^ theirs.keys()
    null_ok = {k for k in NULL_WITHOUT_FEATURE if mine[k] == "NoneType"}
    assert not {k for k, kind in theirs.items() if kind not in ("NoneType", mine[k]) and k not in null_ok}


def test_the_proxy_and_authorizer_events_have_the_shapes_sam_generates() -> None:
    proxy_sample, authorizer_sample = (
        sam_event("apigateway", "aws-proxy"),
        sam_event("apigateway", "request-authorizer"),
    )
    functions = Functions()
    headers = [("Content-Type", "application/octet-stream")]
    ApiGateway(API, functions).answer(
        request("POST", "/v1/files/f1/complete", query="a=b", body=b"{}", headers=headers)
    )
    (_, authorizer_event), (_, proxy) = functions.calls
    # One identity block in both events, with the fields of both samples.
    both = {**proxy_sample["requestContext"]["identity"], **authorizer_sample["requestContext"]["identity"]}
    identity = {f"requestContext.identity.{name}" for name in both}
    assert_same_shape(proxy, proxy_sample, identity | {"requestContext.domainName", "requestContext.authorizer"})
    context = {f"requestContext.{name}" for name in ("requestTime", "requestTimeEpoch", "protocol", "domainName")}
    multi = {"multiValueHeaders", "multiValueQueryStringParameters"}
    assert_same_shape(authorizer_event, authorizer_sample, identity | context | multi)
    assert authorizer_event["methodArn"] == f"{ARN}/POST/v1/files/f1/complete"
    assert (authorizer_event["type"], authorizer_event["resource"]) == ("REQUEST", "/v1/files/{id}/complete")
    context = proxy["requestContext"]
    assert (context["stage"], context["path"], context["apiId"]) == (
        API.stage,
        "/prod/v1/files/f1/complete",
        API.api_id,
    )
    assert (
        uuid.UUID(context["requestId"]).version == 4 and context["identity"]["userAgent"] == "Custom User Agent String"
    )
