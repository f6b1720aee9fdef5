"""The request path of the local API Gateway (REST): what happens to a request once the transport has read it.

route match (unknown -> MISSING_AUTHENTICATION_TOKEN) -> stage throttling (THROTTLED) -> authorizer (cached)
-> the route's function via a Lambda proxy event -> its proxy response, validated as API Gateway does (a
crash or malformed reply is a 502 through DEFAULT_5XX; a slow one a 504 INTEGRATION_TIMEOUT). Every error
is the API's gateway response, rendered from the template.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from filegate_local.authorizer import Authorizers, AuthOutcome
from filegate_local.authorizer_cache import AuthorizerCache
from filegate_local.events import ApiContext, IncomingRequest, header_maps, proxy_event, query_maps, request_context
from filegate_local.gateway_responses import GatewayResponses
from filegate_local.model import ApiSpec, RouteSpec, StackModel
from filegate_local.routes import RouteTable, Throttles, media_type_matches
from filegate_local.transport import GatewayRequestHandler, GatewayServer, HttpResponse
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.gateway")

# REST APIs rename these integration response headers to x-amzn-Remapped-<name>.
REMAPPED_RESPONSE_HEADERS = frozenset({"authorization", "connection", "date", "server", "www-authenticate"})
DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _json_response(status: int, payload: Any, request_id: str) -> HttpResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    return HttpResponse(status, headers, json.dumps(payload).encode())


class MalformedProxyResponse(ValueError):
    pass


def proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """Turn a Lambda proxy integration result into (status, headers, body, was_base64), or raise."""
    if not isinstance(result, Mapping):
        raise MalformedProxyResponse("the function did not return an object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not a valid HTTP status")
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, Mapping) or not isinstance(multi, Mapping):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    pairs: list[tuple[str, str]] = []
    multi_names = {str(k).lower() for k in multi}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders.{name} must be a list")
        pairs.extend((str(name), _scalar(v)) for v in values)
    for name, value in headers.items():
        if str(name).lower() not in multi_names:
            if isinstance(value, Mapping | list):
                raise MalformedProxyResponse(f"headers.{name} must be a scalar")
            pairs.append((str(name), _scalar(value)))
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    is_base64 = result.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool) and is_base64 is not None:
        raise MalformedProxyResponse("isBase64Encoded must be a boolean")
    if is_base64 and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedProxyResponse("body is not valid base64") from exc
    else:
        raw = (body or "").encode()
    unknown = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if unknown:
        log.warning("proxy response has unknown keys %s (API Gateway may reject them)", sorted(unknown))
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        lower = name.lower()
        if lower in DROPPED_RESPONSE_HEADERS:
            continue
        out.append((f"x-amzn-Remapped-{name}" if lower in REMAPPED_RESPONSE_HEADERS else name, value))
    if not any(n.lower() == "content-type" for n, _ in out):
        out.append(("Content-Type", "application/json"))
    return status, out, raw, bool(is_base64)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------------- gateway


class Gateway:
    """Serves every API of the template on one host:port, at the root (the stage is in the events)."""

    def __init__(
        self,
        model: StackModel,
        pools: Mapping[str, FunctionPool],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
    ) -> None:
        self.model = model
        self.pools = pools
        self.host = host
        self.port = port
        self.authorizers = Authorizers(self._invoke_sync, AuthorizerCache())
        self.routes = RouteTable(model.apis.values())
        self.throttles = Throttles(model.apis.values())
        self.responses = {lid: GatewayResponses(api.gateway_responses) for lid, api in model.apis.items()}
        self._server: GatewayServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def listen(self) -> None:
        """Bind the port (0 picks a free one), so `url` is known, without answering anything yet: the stack
        finishes starting first, and a client that connects meanwhile waits in the backlog."""
        server = GatewayServer((self.host, self.port), GatewayRequestHandler)
        server.gateway = self
        self.port = int(server.server_address[1])
        self._server = server

    def serve(self) -> None:
        """Answer requests, in a background thread."""
        if self._server is None:
            raise RuntimeError("the gateway is not listening")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()  # waits for serve_forever to return: it would wait forever without one
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def primary_api(self) -> ApiSpec | None:
        return next(iter(self.model.apis.values()), None)

    # ------------------------------------------------------------------ invoking

    def _invoke_sync(self, function: str, event: dict[str, Any], request_id: str) -> Invocation:
        return self.pools[function].invoke(event, request_id)

    # ------------------------------------------------------------------ entry point

    def handle(self, request: IncomingRequest) -> HttpResponse:
        request.request_id = request.request_id or str(uuid.uuid4())
        try:
            response = self._route(request)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            response = self.gateway_response(request, None, "DEFAULT_5XX", status=500)
        response.headers.append(("x-amzn-RequestId", request.request_id))
        response.headers.append(("x-amz-apigw-id", request.extended_request_id))
        return response

    def _route(self, request: IncomingRequest) -> HttpResponse:
        matched = self.routes.match(request.path)
        if matched is None:
            return self.gateway_response(request, None, "MISSING_AUTHENTICATION_TOKEN")
        resource, parameters = matched
        api = resource.api
        route = resource.methods.get(request.method) or resource.methods.get("ANY")
        api_context = ApiContext(
            api_id=api.api_id,
            stage=api.stage,
            resource_path=resource.path,
            path_parameters=parameters,
            stage_variables=api.stage_variables,
        )
        if route is None or request.method not in HTTP_METHODS:
            return self.gateway_response(request, api, "MISSING_AUTHENTICATION_TOKEN")
        if not self.throttles.allow(api.logical_id, resource.path, request.method):
            return self.gateway_response(request, api, "THROTTLED", api_context=api_context)

        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            outcome = self.authorizers.authorize(api.authorizers[route.authorizer], request, api_context)
            if outcome.kind != "allow":
                return self._auth_failure(request, api, api_context, outcome)
            authorizer_context = outcome.authorizer_context

        binary = media_type_matches(request.header("Content-Type"), api.binary_media_types)
        event = proxy_event(request, api_context, binary=binary, authorizer=authorizer_context)
        return self._integrate(request, api, api_context, route, event)

    def _auth_failure(
        self, request: IncomingRequest, api: ApiSpec, api_context: ApiContext, outcome: AuthOutcome
    ) -> HttpResponse:
        response_type = {
            "unauthorized": "UNAUTHORIZED",
            "denied": "ACCESS_DENIED",
            "config_error": "AUTHORIZER_CONFIGURATION_ERROR",
        }.get(outcome.kind, "AUTHORIZER_FAILURE")
        return self.gateway_response(
            request,
            api,
            response_type,
            api_context=api_context,
            message=outcome.message,
            authorizer=outcome.authorizer_context,
        )

    def _integrate(
        self,
        request: IncomingRequest,
        api: ApiSpec,
        api_context: ApiContext,
        route: RouteSpec,
        event: dict[str, Any],
    ) -> HttpResponse:
        pool = self.pools.get(route.function)
        if pool is None:
            return self.gateway_response(request, api, "API_CONFIGURATION_ERROR", api_context=api_context)
        future = pool.submit(event, str(uuid.uuid4()))
        try:
            invocation = future.result(timeout=route.integration_timeout_ms / 1000)
        except FutureTimeout:
            # The function runs on in its worker (as in AWS); the client gets the integration timeout.
            return self.gateway_response(request, api, "INTEGRATION_TIMEOUT", api_context=api_context)
        if invocation.status == "too_large":
            return self.gateway_response(request, api, "REQUEST_TOO_LARGE", api_context=api_context)
        if not invocation.ok:
            log.warning(
                "%s failed (%s): %s", route.function, invocation.status, (invocation.error or {}).get("errorType")
            )
            return self.gateway_response(request, api, "DEFAULT_5XX", status=502, api_context=api_context)
        try:
            status, headers, body, was_base64 = proxy_response(invocation.result)
        except MalformedProxyResponse as exc:
            log.warning("%s returned a malformed proxy response: %s", route.function, exc)
            return self.gateway_response(request, api, "DEFAULT_5XX", status=502, api_context=api_context)
        if was_base64 and not media_type_matches(_first_accept(request), api.binary_media_types):
            log.warning(
                "%s %s: binary response but Accept %r matches no BinaryMediaTypes; API Gateway would send "
                "the base64 text",
                request.method,
                request.path,
                request.header("Accept"),
            )
        return HttpResponse(status, headers, body)

    # ------------------------------------------------------------------ gateway responses

    def gateway_response(
        self,
        request: IncomingRequest,
        api: ApiSpec | None,
        response_type: str,
        *,
        status: int | None = None,
        api_context: ApiContext | None = None,
        message: str | None = None,
        authorizer: Mapping[str, Any] | None = None,
    ) -> HttpResponse:
        api = api or self.primary_api
        if api is None:
            return _json_response(status or 404, {"message": "No API in the template"}, request.request_id)
        api_context = api_context or ApiContext(api.api_id, api.stage, "", {}, api.stage_variables)
        context = request_context(request, api_context)
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        headers, _ = header_maps(request.headers)
        query, _ = query_maps(request.query)
        rendered = self.responses[api.logical_id].render(
            response_type,
            context,
            status=status,
            message=message,
            stage_variables=api.stage_variables,
            request_headers=headers,
            query=query,
            path_parameters=api_context.path_parameters,
        )
        return HttpResponse(rendered.status, rendered.headers, rendered.body)

    def protocol_error(self, status: int, message: str, source_ip: str) -> HttpResponse:
        """A request we could not even parse: DEFAULT_4XX of the primary API, connection closed."""
        request = IncomingRequest("GET", "/", "", [], b"", source_ip, self.port, request_id=str(uuid.uuid4()))
        kind = "REQUEST_TOO_LARGE" if status == 413 else "DEFAULT_4XX"
        response = self.gateway_response(
            request, None, kind, status=status if kind == "DEFAULT_4XX" else None, message=message
        )
        response.headers.append(("x-amzn-RequestId", request.request_id))
        response.close = True
        return response


def _first_accept(request: IncomingRequest) -> str | None:
    accept = request.header("Accept")
    return accept.split(",")[0] if accept else None
