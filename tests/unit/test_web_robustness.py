"""The shared HTTP layer against hostile requests: deep JSON, %2F ids, odd Host headers (issue 11).

An app built with ``web.create_app`` is called through ``lambda_http.http_handler`` with API Gateway proxy
events, the way every HTTP function is, so Mangum's own event parsing is part of what is tested.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Request
from pydantic import BaseModel

from filegate.lambda_http import http_handler, sanitize_event
from filegate.web import MAX_JSON_DEPTH, create_app, json_body, parse_body

app = create_app("robustness")


class EmailRequest(BaseModel):
    email: str


@app.post("/v1/keys/free")
async def free(request: Request) -> dict[str, Any]:
    return {"email": (await parse_body(request, EmailRequest)).email}


@app.post("/v1/raw")
async def raw(request: Request) -> dict[str, Any]:
    return {"keys": sorted(await json_body(request))}


@app.get("/v1/files/{file_id}")
def get_file(file_id: str) -> dict[str, str]:
    return {"id": file_id}


handler = http_handler(app)


def _event(method: str, path: str, *, body: str | None = None, headers: dict[str, list[str]] | None = None) -> dict:
    multi = {"Content-Type": ["application/json"], **(headers or {})}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "req-1",
            "stage": "prod",
            "apiId": "api",
            "httpMethod": method,
            "path": f"/prod{path}",
            "resourcePath": path,
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _call(event: dict) -> tuple[int, dict[str, Any]]:
    response = handler(event, None)
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.mark.parametrize("path", ["/v1/keys/free", "/v1/raw"])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_1000_deep_is_invalid_request(path: str, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    status, body = _call(_event("POST", path, body=opener * 1000 + "1" + closer * 1000))
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert "nested" in body["error"]["message"]


def test_json_just_past_the_depth_limit_is_refused_and_at_it_accepted() -> None:
    deep = '{"a":' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH
    assert _call(_event("POST", "/v1/raw", body=deep)) == (200, {"keys": ["a"]})
    deeper = '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    assert _call(_event("POST", "/v1/raw", body=deeper))[0] == 400


def test_encoded_slash_id_is_not_found_body_not_a_redirect() -> None:
    status, body = _call(_event("GET", "/v1/files/%2F"))
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_trailing_slash_is_not_found_not_redirected() -> None:
    status, body = _call(_event("GET", "/v1/files/abc/"))
    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "host_headers",
    [
        {"Host": ["[::1]:3000"]},
        {"Host": ["127.0.0.1:abc"]},
        {"Host": ["127.0.0.1:3000", "127.0.0.1:3000"]},
        {"Host": ["a:1:2"]},
        {"Host": [""]},
        {"host": ["example.com"], "HOST": ["127.0.0.1:x"]},
        {"X-Forwarded-Port": ["https"]},
        {"Host": ["example.com"], "X-Forwarded-Port": ["80", "443"]},
    ],
)
def test_no_host_header_crashes_the_function(host_headers: dict[str, list[str]]) -> None:
    assert _call(_event("GET", "/v1/files/abc", headers=host_headers)) == (200, {"id": "abc"})


def test_a_well_formed_host_is_kept() -> None:
    event = _event("GET", "/v1/files/abc", headers={"Host": ["api.example.com:8443"]})
    cleaned = sanitize_event(event)
    assert cleaned["headers"]["host"] == "api.example.com:8443"
    assert cleaned["multiValueHeaders"]["host"] == ["api.example.com:8443"]
    assert event["headers"]["Host"] == "api.example.com:8443"  # the caller's event is left as it was


def test_an_unparseable_host_is_dropped() -> None:
    cleaned = sanitize_event(_event("GET", "/", headers={"Host": ["[::1]:3000"]}))
    assert not any(k.lower() == "host" for k in cleaned["headers"])
    assert not any(k.lower() == "host" for k in cleaned["multiValueHeaders"])


def test_an_event_without_headers_passes() -> None:
    event = _event("GET", "/v1/files/abc")
    event["headers"] = None
    event["multiValueHeaders"] = None
    assert _call(event) == (200, {"id": "abc"})
