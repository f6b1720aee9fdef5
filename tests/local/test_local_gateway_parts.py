"""Pieces of the local gateway that need no server: routing, media types, proxy responses, gateway
responses, the authorizer reply and the authorizer cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filegate_local.authorizer import parse_authorizer_response
from filegate_local.authorizer_cache import AuthorizerCache, AuthorizerResult
from filegate_local.events import IncomingRequest
from filegate_local.gateway import Gateway, MalformedProxyResponse, proxy_response
from filegate_local.gateway_responses import GatewayResponses, render_template
from filegate_local.iam import PolicyError
from filegate_local.model import ApiSpec, RouteSpec, ThrottleSpec, build_model
from filegate_local.routes import RouteTable, Throttles, media_type_matches
from filegate_local.template import Template
from filegate_local.transport import HttpResponse


def api_with(*routes: tuple[str, str]) -> ApiSpec:
    api = ApiSpec("Api", "abc", "api", "prod", (), {}, {}, {}, ())
    api.routes = [RouteSpec("Api", f"e{i}", "Fn", path, method, None) for i, (method, path) in enumerate(routes)]
    return api


def test_route_precedence() -> None:
    table = RouteTable(
        [api_with(("GET", "/v1/files/{id}"), ("GET", "/v1/files/stats"), ("ANY", "/v1/{proxy+}"), ("GET", "/v1"))]
    )

    def match(path: str) -> tuple[str, dict[str, str]] | None:
        found = table.match(path)
        return (found[0].path, found[1]) if found else None

    assert match("/v1/files/stats") == ("/v1/files/stats", {})
    assert match("/v1/files/f1") == ("/v1/files/{id}", {"id": "f1"})
    assert match("/v1/files/f1/content") == ("/v1/{proxy+}", {"proxy": "files/f1/content"})
    assert match("/v1/") == ("/v1", {})
    assert match("/v2/x") is None
    assert match("/") is None


def test_duplicate_routes_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RouteTable([api_with(("GET", "/a"), ("GET", "/a"))])


@pytest.mark.parametrize(
    ("content_type", "patterns", "expected"),
    [
        ("image/png", ["image/*"], True),
        ("IMAGE/PNG; q=1", ["image/*"], True),
        ("multipart/form-data; boundary=x", ["multipart/form-data"], True),
        ("application/json", ["image/*", "application/octet-stream"], False),
        ("application/json", ["*/*"], True),
        (None, ["*/*"], False),
    ],
)
def test_binary_media_types(content_type: str | None, patterns: list[str], expected: bool) -> None:
    assert media_type_matches(content_type, patterns) is expected


def test_proxy_response_merges_headers_and_remaps_reserved_ones() -> None:
    status, headers, body, was_base64 = proxy_response(
        {
            "statusCode": 201,
            "headers": {"X-A": "1", "Set-Cookie": "ignored", "WWW-Authenticate": "Basic", "Content-Length": "9"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "aGk=",
            "isBase64Encoded": True,
        }
    )
    assert status == 201 and body == b"hi" and was_base64
    assert ("Set-Cookie", "a=1") in headers and ("Set-Cookie", "b=2") in headers
    assert ("Set-Cookie", "ignored") not in headers
    assert ("x-amzn-Remapped-WWW-Authenticate", "Basic") in headers
    assert not any(name.lower() == "content-length" for name, _ in headers)
    assert ("Content-Type", "application/json") in headers  # API Gateway's default


@pytest.mark.parametrize(
    "result",
    [
        "text",
        None,
        {"body": "x"},
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": {"a": ["x"]}},
        {"statusCode": 200, "multiValueHeaders": {"a": "x"}},
        {"statusCode": 200, "body": "@@@", "isBase64Encoded": True},
    ],
)
def test_malformed_proxy_responses(result: Any) -> None:
    with pytest.raises(MalformedProxyResponse):
        proxy_response(result)


def test_render_template_references() -> None:
    variables = {"context": {"requestId": "r1", "authorizer": {"deny_code": "x"}}, "stageVariables": {"s": "v"}}
    rendered = render_template(
        '{"a":"$context.requestId","b":"${context.requestId}","c":"$context.authorizer.deny_code.",'
        '"d":"$context.authorizer.missing","e":"$stageVariables.s","f":"$!context.nothing"}',
        variables,
    )
    assert rendered == '{"a":"r1","b":"r1","c":"x.","d":"","e":"v","f":""}'


def test_gateway_responses_fall_back_to_default_4xx_and_5xx() -> None:
    responses = GatewayResponses(
        {
            "UNAUTHORIZED": {
                "StatusCode": "401",
                "ResponseParameters": {
                    "Headers": {"WWW-Authenticate": "'Bearer'", "X-Request-Id": "context.requestId"}
                },
                "ResponseTemplates": {"application/json": '{"id":"$context.requestId"}'},
            },
            "DEFAULT_4XX": {"ResponseTemplates": {"application/json": '{"kind":"$context.error.responseType"}'}},
            "DEFAULT_5XX": {"ResponseTemplates": {"application/json": '{"msg":$context.error.messageString}'}},
        }
    )
    unauthorized = responses.render("UNAUTHORIZED", {"requestId": "r9"})
    assert unauthorized.status == 401
    assert unauthorized.body == b'{"id":"r9"}'
    assert ("WWW-Authenticate", "Bearer") in unauthorized.headers
    assert ("X-Request-Id", "r9") in unauthorized.headers
    throttled = responses.render("THROTTLED", {})
    assert throttled.status == 429 and throttled.body == b'{"kind":"THROTTLED"}'
    lambda_error = responses.render("DEFAULT_5XX", {}, status=502)
    assert lambda_error.status == 502 and lambda_error.body == b'{"msg":"Internal server error"}'
    timeout = responses.render("INTEGRATION_TIMEOUT", {})
    assert timeout.status == 504


def test_builtin_gateway_response_without_configuration() -> None:
    response = GatewayResponses({}).render("MISSING_AUTHENTICATION_TOKEN", {})
    assert response.status == 403
    assert response.body == b'{"message":"Missing Authentication Token"}'


def test_authorizer_reply_validation() -> None:
    result = parse_authorizer_response(
        {
            "principalId": "p",
            "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            "context": {"s": "x", "n": 3, "f": 1.5, "b": False, "none": None},
        }
    )
    assert result.context == {"s": "x", "n": "3", "f": "1.5", "b": "false"}
    for bad in (
        None,
        {"policyDocument": {"Statement": []}},
        {"principalId": "p"},
        {"principalId": "p", "policyDocument": {"Statement": "x"}},
        {
            "principalId": "p",
            "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            "context": {"nested": {"a": 1}},
        },
    ):
        with pytest.raises(PolicyError):
            parse_authorizer_response(bad)


def test_authorizer_cache_ttl_and_bound() -> None:
    now = [1000.0]
    cache = AuthorizerCache(clock=lambda: now[0], max_entries=3)
    result = AuthorizerResult("p", {"Statement": []}, {})
    key = ("api", "prod", "Auth", ("Bearer x", "1.2.3.4"))
    cache.put(key, result, ttl_seconds=300)
    assert cache.get(key) is result
    now[0] += 299
    assert cache.get(key) is result
    now[0] += 2
    assert cache.get(key) is None
    cache.put(key, result, ttl_seconds=0)  # TTL 0: caching disabled
    assert cache.get(key) is None
    for i in range(5):
        cache.put(("api", "prod", "Auth", (str(i),)), result, 300)
    assert len(cache) == 3  # bounded


def test_method_settings_throttle_with_a_token_bucket() -> None:
    api = api_with(("GET", "/a"), ("GET", "/b"))
    api.throttles = (
        ThrottleSpec(resource_path="/~1a", method="GET", rate_limit=0.001, burst_limit=2),
        ThrottleSpec(resource_path="/*", method="*", rate_limit=1000, burst_limit=1000),
    )
    throttles = Throttles([api])
    assert [throttles.allow("Api", "/a", "GET") for _ in range(3)] == [True, True, False]
    assert all(throttles.allow("Api", "/b", "GET") for _ in range(50))


def test_the_templates_stage_throttling_answers_429_rate_limited() -> None:
    root = Path(__file__).resolve().parents[2]
    template = Template(
        root / "template.yaml", parameter_overrides={"ThrottlingBurstLimit": "2", "ThrottlingRateLimit": "0"}
    )
    gateway = Gateway(build_model(template), pools={})  # no functions: a request that gets through is a 5xx

    def post() -> HttpResponse:
        return gateway.handle(IncomingRequest("POST", "/v1/keys/free", "", [], b"{}", "127.0.0.1", 3000))

    assert [post().status for _ in range(2)] == [500, 500]  # within the burst
    throttled = post()
    assert throttled.status == 429
    assert json.loads(throttled.body)["error"]["code"] == "rate_limited"
    assert ("Retry-After", "1") in throttled.headers
