"""The three places that must agree: template.yaml, the route table in code, and the functions.

- The gateway's own error answers (template.yaml GatewayResponses) say what the functions say for the
  same case: the 401 text and header of ``errors.InvalidApiKey``; the 403s rendered from the real
  authorizer's context carry the codes of ``errors`` and the message of docs/api.md.
- Each FastAPI app serves exactly its routes of ``filegate.routes.ROUTES``, and the template routes
  exactly those to that function.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute

from filegate import errors
from filegate.routes import DASHBOARD_ROUTES, ROUTES, is_catch_all
from tests.service.conftest import Stack
from tests.service.harness import Response, ServiceApi
from tests.service.helpers import Account, assert_error, change_account


def _without_request_id(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["error"].pop("request_id") == response.headers["x-request-id"]
    return body


def _expected(error: type[errors.ApiError], message: str | None = None) -> dict[str, Any]:
    body = errors.error_body(error.code, message or error.default_message, "")
    del body["error"]["request_id"]
    return body


def test_the_gateways_401_is_the_functions_401(api: ServiceApi, pro_account: Account) -> None:
    """Missing key: the gateway answers from the template. Key dead while its policy is cached: the function
    answers from errors.InvalidApiKey. A client cannot tell them apart (docs/api.md §1)."""
    gateway = api.call("GET", "/v1/entitlements/me", source_ip=pro_account.source_ip)
    assert gateway.answered_by == "gateway" and gateway.status == errors.InvalidApiKey.status
    assert _without_request_id(gateway) == _expected(errors.InvalidApiKey)
    assert gateway.headers["www-authenticate"] == errors.InvalidApiKey().headers["WWW-Authenticate"]

    # A key whose rotation grace ends while API Gateway still caches its policy. The grace must outlast
    # the rotation's own round trip on a busy machine: 2 s, doubled while it does not.
    key = pro_account.create_key(name="rotating", scopes=["files:read"])["api_key"]
    for grace in (2, 4, 8, 16):
        rotated = pro_account.call("POST", "/v1/keys/rotate", key=key, json_body={"grace_seconds": grace})
        assert rotated.status == 201, rotated
        cached = api.authorizer_context("GET", "/v1/files", key=key, source_ip=pro_account.source_ip)
        if cached is not None:
            break
        key = rotated.json()["api_key"]  # the grace ended before the authorizer saw the key: a longer one
    assert cached is not None
    grace_ends = datetime.fromisoformat(cached["valid_until"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (grace_ends - datetime.now(UTC)).total_seconds()) + 0.1)
    function = pro_account.call("GET", "/v1/files", key=key, cached_authorizer=cached)
    assert function.answered_by == "FilesFunction", function
    assert_error(function, 401, errors.InvalidApiKey.code)
    assert _without_request_id(function) == _without_request_id(gateway)


def test_the_gateways_403_texts(api: ServiceApi, pro_account: Account) -> None:
    """Rendered from the template with the real authorizer's context, whichever layer refuses."""
    reader = pro_account.create_key(name="reader", scopes=["files:read"])
    context = api.authorizer_context("GET", "/v1/files", key=reader["api_key"], source_ip=pro_account.source_ip)
    assert context is not None
    rendered = api.render_gateway_response("ACCESS_DENIED", "POST", "/v1/files", authorizer=context)
    assert rendered.status == errors.InsufficientScope.status
    expected = _expected(errors.InsufficientScope, "This key may not call POST /v1/files.")
    assert _without_request_id(rendered) == expected
    served = pro_account.call("POST", "/v1/files", key=reader["api_key"], json_body={"filename": "a", "size": 1})
    assert_error(served, 403, errors.InsufficientScope.code)
    assert _without_request_id(served) == expected

    change_account(api, pro_account.account_id, status="suspended")
    suspended = pro_account.call("GET", "/v1/entitlements/me")
    assert_error(suspended, 403, errors.AccountSuspended.code)
    message = _without_request_id(suspended)["error"]["message"]
    assert message == "This account is suspended; this key may not call GET /v1/entitlements/me."


# Gateway response type -> (the error the functions raise for the same case, whether the message is that
# error's default too; False where the gateway's message says more, e.g. which route or how to upload).
GATEWAY_ERRORS: dict[str, tuple[type[errors.ApiError], bool]] = {
    "UNAUTHORIZED": (errors.InvalidApiKey, True),
    "MISSING_AUTHENTICATION_TOKEN": (errors.NotFound, False),
    "THROTTLED": (errors.RateLimited, True),
    "REQUEST_TOO_LARGE": (errors.FileTooLarge, False),
    "UNSUPPORTED_MEDIA_TYPE": (errors.UnsupportedMediaType, False),
    "DEFAULT_4XX": (errors.InvalidRequest, True),
    "DEFAULT_5XX": (errors.InternalError, True),
}


@pytest.mark.parametrize("kind", sorted(GATEWAY_ERRORS))
def test_every_gateway_response_speaks_the_error_body(api: ServiceApi, kind: str) -> None:
    assert kind in api.spec.gateway_responses, f"template.yaml has no {kind} gateway response"
    error, same_message = GATEWAY_ERRORS[kind]
    response = api.render_gateway_response(kind, "GET", "/v1/health")
    if kind not in ("DEFAULT_4XX", "DEFAULT_5XX"):  # those two keep the status of the cause
        assert response.status == error.status, response
    assert response.headers["content-type"] == "application/json"
    body = _without_request_id(response)
    assert body["error"]["code"] == error.code
    if same_message:
        assert body["error"]["message"] == error.default_message


def test_the_gateways_413_quotes_the_limit_and_the_refused_size(api: ServiceApi) -> None:
    from filegate.tiers import SYNC_MAX_BYTES
    from filegate_local.gateway import ApiContext, IncomingRequest, request_context
    from tests.service.harness import GATEWAY_PORT

    headers = [("Content-Length", "12000000")]
    request = IncomingRequest("POST", "/v1/convert", "", headers, b"", "203.0.113.10", GATEWAY_PORT, request_id="r")
    context = ApiContext(api.spec.api_id, api.spec.stage, "/v1/convert", {})
    rendered = api.responses.render(
        "REQUEST_TOO_LARGE",
        request_context(request, context),
        request_headers=dict(headers),
    )
    body = json.loads(rendered.body)
    assert rendered.status == 413 and body["error"]["code"] == "file_too_large"
    assert str(SYNC_MAX_BYTES) in body["error"]["message"] and "/v1/files" in body["error"]["message"]
    assert dict(rendered.headers)["X-Request-Body-Bytes"] == "12000000"


def test_an_unknown_route_reads_the_same_from_the_gateway_and_a_function(stack: Stack) -> None:
    """API Gateway answers unknown routes itself; a function asked for one (redirect_slashes, a stage
    mapping) must give the same 404."""
    from filegate_local.gateway import ApiContext, IncomingRequest, proxy_event
    from tests.service.harness import GATEWAY_PORT, proxy_response

    api = stack.api
    gateway = api.render_gateway_response("MISSING_AUTHENTICATION_TOKEN", "GET", "/v1/health")
    request = IncomingRequest("GET", "/v1/nothing-here", "", [], b"", "203.0.113.10", GATEWAY_PORT, request_id="r-1")
    context = ApiContext(api.spec.api_id, api.spec.stage, "/v1/health", {})
    event = proxy_event(request, context, binary=False, authorizer=None)
    function = proxy_response(stack.functions.invoke("KeysFunction", event), "KeysFunction")
    assert function.status == gateway.status == 404
    assert _without_request_id(function) == _without_request_id(gateway)


def _shape(path: str) -> str:
    """A path with its parameter names erased: /v1/files/{file_id} and /v1/files/{id} are one route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _app_routes(routes: list[Any]) -> list[Any]:
    """An app's routes, with those of the routers it includes (FastAPI keeps an included router whole, as one
    entry holding `original_router`: the dashboard includes one router per page)."""
    flat: list[Any] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        flat.extend(_app_routes(included.routes) if included is not None else [route])
    return flat


def test_each_app_serves_exactly_its_routes_of_the_table_and_the_template(stack: Stack) -> None:
    functions_with_api = {route.function for route in stack.api.spec.routes}
    folders = {stack.model.functions[f].code_dir.name: f for f in functions_with_api}
    every_route = (*ROUTES, *DASHBOARD_ROUTES)
    assert set(folders) == {route.function for route in every_route}  # no route of the table left unrouted
    for folder, logical_id in folders.items():
        app_routes = _app_routes(stack.functions.module(logical_id).app.routes)
        assert all(isinstance(r, APIRoute) for r in app_routes), f"{folder}: a route outside the route table"
        served = {(method, _shape(r.path)) for r in app_routes for method in r.methods}
        table = {(r.method, _shape(r.path)) for r in every_route if r.function == folder}
        # ANY events only bring a path's other methods to its function, for the 405 (test_mistakes_are_loud);
        # a greedy catch-all ({proxy+}) is a route of the table, answered by the app's not-found handler.
        template = {
            (r.method, _shape(r.path))
            for r in stack.api.spec.routes
            if r.function == logical_id and (r.method != "ANY" or is_catch_all(r.path))
        }
        catch_alls = {(r.method, _shape(r.path)) for r in every_route if r.function == folder and is_catch_all(r.path)}
        routed = table - catch_alls
        assert served == routed, f"{folder}: app routes differ from ROUTES: {sorted(served ^ routed)}"
        assert template == table, f"{folder}: template.yaml events differ from ROUTES: {sorted(template ^ table)}"
