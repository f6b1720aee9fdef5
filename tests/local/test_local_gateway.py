"""filegate_local.gateway.ApiGateway on template.yaml's own API, in front of stand-in functions that record the
events they get (held against `sam local generate-event`'s) and answer as told."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from filegate_local.gateway import INTEGRATION_TIMEOUT, ApiGateway, HttpResponse, IncomingRequest
from filegate_local.model import build_model
from filegate_local.template import Template
from filegate_local.workers import Invocation
from tests.helpers.local_stack import template_model
from tests.helpers.sam_cli import sam_event

ROOT = Path(__file__).resolve().parents[2]
API = template_model().apis["Api"]
ARN = f"arn:aws:execute-api:us-east-1:123456789012:{API.api_id}/{API.stage}"
A_STRING_RESOURCE = {"principalId": "p", "policyDocument": {"Statement": [{"Effect": "Allow", "Resource": "*"}]}}


def allow(*resources: str, effect: str = "Allow", **context: Any) -> Invocation:
    policy = {"Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": list(resources)}]}
    return Invocation("a", "ok", {"principalId": "key-1", "policyDocument": policy, "context": context})


class Functions:
    """Stand-ins for the template's functions: each call recorded, answered with `reply` (the authorizer's)."""

    def __init__(self, reply: Any = None, authorizer: Invocation | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply = reply if isinstance(reply, Invocation) else Invocation("f", "ok", reply or {"statusCode": 200})
        self.authorizer = authorizer or allow(f"{ARN}/*/*", key_id="key-1", n=5, flag=True)

    def __call__(self, function: str, event: dict[str, Any], _timeout: float | None) -> Invocation:
        self.calls.append((function, event))
        return self.authorizer if function == "AuthorizerFunction" else self.reply

    def count(self, function: str) -> int:
        return [f for f, _ in self.calls].count(function)


def request(method: str, path: str, key: str | None = "k", ip: str = "198.51.100.1", **kw: Any) -> IncomingRequest:
    headers = [("Host", "api.example"), ("User-Agent", "Custom User Agent String"), *kw.pop("headers", [])]
    headers += [("Authorization", f"Bearer {key}")] if key is not None else []
    return IncomingRequest(method, path, kw.pop("query", ""), headers, kw.pop("body", b""), ip, 443)


def error(response: HttpResponse) -> dict[str, Any]:
    return json.loads(response.body)["error"]  # type: ignore[no-any-return]


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
    response = ApiGateway(API, functions).answer(request(method, path))
    event = functions.calls[-1][1] if functions.calls else {}  # no function is asked for an unknown route
    assert (event.get("resource"), event.get("pathParameters")) == (resource, parameters)
    expected = (200, resource) if resource else (404, "not_found")
    assert (response.status, resource or error(response)["code"]) == expected


def test_the_stages_throttling_answers_429_rate_limited() -> None:
    overrides = {"ThrottlingBurstLimit": "2", "ThrottlingRateLimit": "0"}
    model = build_model(Template(ROOT / "template.yaml", parameter_overrides=overrides))
    gateway = ApiGateway(model.apis["Api"], Functions())
    answers = [gateway.answer(request("GET", "/v1/health")) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429] and error(answers[2])["code"] == "rate_limited"


def test_the_authorizer_is_asked_once_per_key_and_source_ip_and_its_cached_policy_is_checked_for_each_route() -> None:
    functions = Functions(authorizer=allow(f"{ARN}/GET/v1/keys", f"{ARN}/*/v1/files*", key_id="key-1", n=5, flag=True))
    gateway = ApiGateway(API, functions)
    for headers in ([], [("Authorization", "")]):  # no key: 401 without asking the authorizer
        refused = gateway.answer(request("GET", "/v1/keys", key=None, headers=headers))
        assert (refused.status, dict(refused.headers)["WWW-Authenticate"]) == (401, 'Bearer realm="filegate"')
    assert functions.calls == []
    calls = (("GET", "/v1/keys"), ("POST", "/v1/files"), ("POST", "/v1/keys"))
    answers = [gateway.answer(request(method, path)) for method, path in calls]
    assert [a.status for a in answers] == [200, 200, 403]  # `*` spans slashes; the last is not allowed
    assert error(answers[2])["message"] == "This key may not call POST /v1/keys."  # ACCESS_DENIED's template
    authorizer = functions.calls[-1][1]["requestContext"]["authorizer"]  # context values reach functions as strings
    assert authorizer == {"principalId": "key-1", "integrationLatency": 0, "key_id": "key-1", "n": "5", "flag": "true"}
    gateway.answer(request("GET", "/v1/keys", ip="198.51.100.2"))
    gateway.answer(request("GET", "/v1/keys", key="other"))
    uncached = ApiGateway(API, functions, cache_authorizer=False)
    assert [uncached.answer(request("GET", "/v1/keys")).status for _ in range(2)] == [200, 200]
    assert functions.count("AuthorizerFunction") == 5
    deny = Functions(authorizer=allow(f"{ARN}/*/*", effect="Deny"))
    assert ApiGateway(API, deny).answer(request("GET", "/v1/keys")).status == 403


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Invocation("a", "error", error={"errorType": "Exception", "errorMessage": "Unauthorized"}), 401),
        (Invocation("a", "crash", error={"errorType": "Runtime.ExitError"}), 500),
        (Invocation("a", "ok", {"principalId": "p"}), 500),  # no policy
        (Invocation("a", "ok", {"policyDocument": {"Statement": []}}), 500),  # no principal
        (allow(f"{ARN}/*/*", nested={"no": "objects"}), 500),
        (Invocation("a", "ok", A_STRING_RESOURCE), 500),  # Resource not a list
    ],
)
def test_an_authorizer_that_refuses_fails_or_replies_badly_is_never_cached(reply: Invocation, status: int) -> None:
    functions = Functions(authorizer=reply)
    gateway = ApiGateway(API, functions)
    assert [gateway.answer(request("GET", "/v1/keys")).status for _ in range(2)] == [status, status]
    assert functions.count("AuthorizerFunction") == 2 and functions.count("KeysFunction") == 0


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Invocation("f", "error", error={"errorType": "ValueError"}), 502),
        (Invocation("f", "timeout"), 502),  # the function's own Timeout
        ({"statusCode": "two hundred"}, 502),
        ({"statusCode": 200, "body": {"not": "a string"}}, 502),
        ({"statusCode": 200, "headers": {"X": ["a"]}}, 502),
        ({"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"}, 502),
        (Invocation("f", "ok", ["not", "an", "object"]), 502),
        (Invocation("f", INTEGRATION_TIMEOUT), 504),  # slower than the route's 29 s
        (Invocation("f", "too_large"), 413),  # over Lambda's invoke payload limit
    ],
)
def test_a_failing_function_or_a_malformed_reply_is_the_gateways_own_answer(reply: Any, status: int) -> None:
    response = ApiGateway(API, Functions(reply)).answer(request("GET", "/v1/health"))
    assert response.status == status and error(response)["request_id"]


def test_the_request_reaches_the_function_and_its_proxy_reply_becomes_the_answer_as_in_api_gateway() -> None:
    headers = {"X-One": "1", "WWW-Authenticate": "Bearer", "Content-Length": "9"}
    body, multi = base64.b64encode(b"\x89PNG\x00").decode(), {"Set-Cookie": ["a=1", "b=2"]}
    reply = {"statusCode": 201, "body": body, "isBase64Encoded": True, "headers": headers, "multiValueHeaders": multi}
    gateway = ApiGateway(API, functions := Functions(reply))
    for content_type in ("image/png", "application/json", "multipart/form-data; boundary=x"):
        gateway.answer(request("POST", "/v1/files", body=b"\x00\xff", headers=[("Content-Type", content_type)]))
        event = functions.calls[-1][1]  # BinaryMediaTypes */*: every type is binary
        assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, b"\x00\xff")
    sent_headers = [("X-Multi", "one"), ("x-multi", "two"), ("X-Forwarded-For", "203.0.113.9"), ("Connection", "close")]
    sent = request("GET", "/v1/health", query="a=1&a=2&b=x%20y&empty", headers=sent_headers, body=b"words")
    response = gateway.answer(sent)
    assert (response.status, response.body, response.answered_by) == (201, b"\x89PNG\x00", "KeysFunction")
    assert response.headers[:2] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert ("Content-Type", "application/json") in response.headers and "Content-Length" not in dict(response.headers)
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
            sample = next(iter(value.values()), None) if isinstance(value, dict) else value
            found[f"{path}{key}"] = type(sample).__name__
    return found


def assert_same_shape(ours: dict[str, Any], sams: dict[str, Any], extras: set[str]) -> None:
    mine, theirs = fields(ours), fields(sams)
    assert theirs.keys() <= mine.keys() and mine.keys() - theirs.keys() <= extras, mine.keys() ^ theirs.keys()
    null_ok = {k for k in NULL_WITHOUT_FEATURE if mine[k] == "NoneType"}
    assert not {k for k, kind in theirs.items() if kind not in ("NoneType", mine[k]) and k not in null_ok}


def test_the_proxy_and_authorizer_events_have_the_shapes_sam_generates() -> None:
    proxy_sample = sam_event("apigateway", "aws-proxy")
    authorizer_sample = sam_event("apigateway", "request-authorizer")
    functions = Functions()
    ApiGateway(API, functions).answer(request("POST", "/v1/files/f1/complete", query="a=b", body=b"{}"))
    (_, authorizer_event), (_, proxy) = functions.calls
    # One identity block in both events, with the fields of both samples.
    both = {**proxy_sample["requestContext"]["identity"], **authorizer_sample["requestContext"]["identity"]}
    identity = {f"requestContext.identity.{name}" for name in both}
    assert_same_shape(proxy, proxy_sample, identity | {"requestContext.domainName", "requestContext.authorizer"})
    context = {f"requestContext.{name}" for name in ("requestTime", "requestTimeEpoch", "protocol", "domainName")}
    multi = {"multiValueHeaders", "multiValueQueryStringParameters"}
    assert_same_shape(authorizer_event, authorizer_sample, identity | context | multi)
    assert (authorizer_event["methodArn"], authorizer_event["type"]) == (f"{ARN}/POST/v1/files/f1/complete", "REQUEST")
    context = proxy["requestContext"]
    assert (context["resourcePath"], context["path"]) == ("/v1/files/{id}/complete", "/prod/v1/files/f1/complete")
    assert uuid.UUID(context["requestId"]).version == 4
    assert context["identity"]["userAgent"] == "Custom User Agent String"
