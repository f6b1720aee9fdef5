"""The API Gateway (REST) emulation: routes, authorizers, proxy events, gateway responses, and the few
API Gateway / Lambda management calls local tools need, on one ThreadingHTTPServer on 127.0.0.1.

Request path: body size bound (10 MB) -> route match (unknown -> MISSING_AUTHENTICATION_TOKEN) -> stage
throttling -> authorizer (cached) -> the route's function via a Lambda proxy event -> its proxy response,
validated as API Gateway does (a crash or malformed reply is a 502 through DEFAULT_5XX).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from email.errors import MissingHeaderBodySeparatorDefect
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from filegate_local.authorizer import Authorizers, AuthOutcome
from filegate_local.authorizer_cache import AuthorizerCache
from filegate_local.events import (
    ApiContext,
    IncomingRequest,
    header_maps,
    proxy_event,
    query_maps,
    request_context,
    resource_id,
)
from filegate_local.gateway_responses import GatewayResponses
from filegate_local.model import ApiSpec, RouteSpec, StackModel, ThrottleSpec
from filegate_local.template import ACCOUNT_ID, REGION
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_REQUEST_LINE = 8192
# REST APIs rename these integration response headers to x-amzn-Remapped-<name>.
REMAPPED_RESPONSE_HEADERS = frozenset({"authorization", "connection", "date", "server", "www-authenticate"})
DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    close: bool = False


# --------------------------------------------------------------------------------------------- routing


@dataclass
class Resource:
    """An API Gateway resource (a path) with its methods."""

    api: ApiSpec
    path: str
    segments: tuple[str, ...]
    methods: dict[str, RouteSpec] = field(default_factory=dict)

    def bind(self, segments: list[str]) -> tuple[int, ...] | None:
        """Per-segment specificity if this resource matches (higher wins), else None."""
        score: list[int] = []
        for index, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                if index >= len(segments):
                    return None
                return (*score, 0)
            if index >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                score.append(1)
            elif pattern == segments[index]:
                score.append(2)
            else:
                return None
        return tuple(score) if len(segments) == len(self.segments) else None

    def parameters(self, segments: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for index, pattern in enumerate(self.segments):
            if pattern.endswith("+}"):
                values[pattern[1:-2]] = "/".join(segments[index:])
                break
            if pattern.startswith("{"):
                values[pattern[1:-1]] = segments[index]
        return values


class RouteTable:
    def __init__(self, apis: Iterable[ApiSpec]) -> None:
        self.resources: list[Resource] = []
        by_key: dict[tuple[str, str], Resource] = {}
        for api in apis:
            for route in api.routes:
                key = (api.logical_id, route.path)
                if key not in by_key:
                    segments = tuple(s for s in route.path.split("/") if s)
                    by_key[key] = Resource(api=api, path=route.path, segments=segments)
                    self.resources.append(by_key[key])
                if route.method in by_key[key].methods:
                    raise ValueError(f"duplicate route {route.method} {route.path}")
                by_key[key].methods[route.method] = route

    def match(self, path: str) -> tuple[Resource, dict[str, str]] | None:
        segments = [s for s in path.split("/") if s]
        best: tuple[tuple[int, ...], Resource] | None = None
        for resource in self.resources:
            score = resource.bind(segments)
            if score is not None and (best is None or score > best[0]):
                best = (score, resource)
        if best is None:
            return None
        return best[1], best[1].parameters(segments)


# --------------------------------------------------------------------------------------------- throttling


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(max(burst, 1))
        self.tokens, self.updated = self.capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _throttle_path(setting: ThrottleSpec) -> str:
    # MethodSettings write /a/b as /~1a~1b; "/*" means every resource.
    if setting.resource_path in ("/*", "*"):
        return "*"
    return (
        setting.resource_path[1:].replace("~1", "/")
        if setting.resource_path.startswith("/~1")
        else setting.resource_path
    )


class Throttles:
    def __init__(self, apis: Iterable[ApiSpec]) -> None:
        self._buckets: list[tuple[str, str, str, TokenBucket]] = [
            (api.logical_id, _throttle_path(s), s.method, TokenBucket(s.rate_limit, s.burst_limit))
            for api in apis
            for s in api.throttles
        ]

    def allow(self, api: str, resource_path: str, method: str) -> bool:
        specific = [b for a, p, m, b in self._buckets if a == api and p == resource_path and m in (method, "*")]
        stage_wide = [b for a, p, m, b in self._buckets if a == api and p == "*" and m in (method, "*")]
        buckets = specific or stage_wide
        return all(b.take() for b in buckets)


# --------------------------------------------------------------------------------------------- helpers


def media_type_matches(content_type: str | None, patterns: Iterable[str]) -> bool:
    """Whether a Content-Type matches one of an API's binary media types (wildcards like image/* count)."""
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    for pattern in patterns:
        regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern.strip().lower())
        if re.fullmatch(regex, media):
            return True
    return False


def _json_response(status: int, payload: Any, request_id: str, error_type: str | None = None) -> HttpResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
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
        cache: AuthorizerCache | None = None,
    ) -> None:
        self.model = model
        self.pools = pools
        self.host = host
        self.port = port
        self.cache = cache or AuthorizerCache()
        self.authorizers = Authorizers(self._invoke_sync, self.cache)
        self.routes = RouteTable(model.apis.values())
        self.throttles = Throttles(model.apis.values())
        self.responses = {lid: GatewayResponses(api.gateway_responses) for lid, api in model.apis.items()}
        self._apis_by_id = {api.api_id: api for api in model.apis.values()}
        self._functions_by_name: dict[str, str] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.created_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> None:
        """Open the listening socket (port 0 picks a free one); requests queue until serve()."""
        server = _Server((self.host, self.port), _Handler)
        server.gateway = self
        self.port = int(server.server_address[1])
        self._server = server

    def serve(self) -> None:
        if self._server is None:
            self.bind()
        server = self._server
        assert server is not None
        self._functions_by_name = {
            key: lid for lid, pool in self.pools.items() for key in (lid, pool.spec.name, pool.spec.arn)
        }
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway", daemon=True
        )
        self._thread.start()

    def start(self) -> None:
        self.bind()
        self.serve()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
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
        if matched is None and self._is_management(request):
            return self._management(request)
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
        if route.authorizer == "AWS_IAM":
            if not (request.header("Authorization") or "").startswith("AWS4-HMAC-SHA256"):
                return self.gateway_response(request, api, "MISSING_AUTHENTICATION_TOKEN", api_context=api_context)
        elif route.authorizer is not None:
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

    # ------------------------------------------------------------------ management calls

    @staticmethod
    def _is_management(request: IncomingRequest) -> bool:
        return request.path.startswith(("/restapis", "/2015-03-31/functions/"))

    def _management(self, request: IncomingRequest) -> HttpResponse:
        parts = [unquote(p) for p in request.path.split("/") if p]
        rid = request.request_id
        if parts[:2] == ["2015-03-31", "functions"] and len(parts) == 4 and parts[3] == "invocations":
            if request.method != "POST":
                return _json_response(405, {"message": "Method not allowed"}, rid)
            return self._lambda_invoke(request, parts[2])
        if parts[0] != "restapis":
            return self.gateway_response(request, None, "MISSING_AUTHENTICATION_TOKEN")
        if len(parts) == 1 and request.method == "GET":
            items = [self._rest_api_json(api) for api in self.model.apis.values()]
            return _json_response(200, {"item": items}, rid)
        api = self._apis_by_id.get(parts[1]) if len(parts) > 1 else None
        if api is None:
            message = f"Invalid API identifier specified {ACCOUNT_ID}:{parts[1] if len(parts) > 1 else ''}"
            return _json_response(404, {"message": message}, rid, "NotFoundException")
        if len(parts) == 2 and request.method == "GET":
            return _json_response(200, self._rest_api_json(api), rid)
        if len(parts) == 3 and parts[2] == "stages" and request.method == "GET":
            return _json_response(200, {"item": [self._stage_json(api)]}, rid)
        if len(parts) >= 4 and parts[2] == "stages" and parts[3] != api.stage:
            return _json_response(404, {"message": "Invalid stage identifier specified"}, rid, "NotFoundException")
        if len(parts) == 4 and request.method == "GET":
            return _json_response(200, self._stage_json(api), rid)
        if parts[4:] == ["cache", "authorizers"] and request.method == "DELETE":
            flushed = self.cache.flush(api.api_id, api.stage)
            log.info("FlushStageAuthorizersCache %s/%s: %d entries", api.api_id, api.stage, flushed)
            return HttpResponse(202, [("Content-Type", "application/json")], b"{}")
        return _json_response(404, {"message": "Unknown management operation"}, rid, "NotFoundException")

    def _rest_api_json(self, api: ApiSpec) -> dict[str, Any]:
        return {
            "id": api.api_id,
            "name": api.name,
            "createdDate": int(self.created_at),
            "binaryMediaTypes": list(api.binary_media_types),
            "apiKeySource": "HEADER",
            "endpointConfiguration": {"types": ["EDGE"]},
            "rootResourceId": resource_id("/"),
        }

    def _stage_json(self, api: ApiSpec) -> dict[str, Any]:
        return {
            "stageName": api.stage,
            "deploymentId": resource_id(f"deployment/{api.api_id}/{api.stage}"),
            "variables": dict(api.stage_variables),
            "createdDate": int(self.created_at),
            "lastUpdatedDate": int(self.created_at),
        }

    def _lambda_invoke(self, request: IncomingRequest, name: str) -> HttpResponse:
        """Lambda's Invoke API (RequestResponse, Event, DryRun) for the template's functions."""
        rid = request.request_id
        function = self._functions_by_name.get(
            name.split(":function:")[-1].split(":")[0]
        ) or self._functions_by_name.get(name)
        if function is None:
            message = f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
            return _json_response(404, {"Message": message, "Type": "User"}, rid, "ResourceNotFoundException")
        try:
            event = json.loads(request.body or b"{}")
        except ValueError:
            return _json_response(
                400, {"Message": "Could not parse request body into json"}, rid, "InvalidRequestContentException"
            )
        kind = request.header("X-Amz-Invocation-Type") or "RequestResponse"
        pool = self.pools[function]
        if kind == "DryRun":
            return HttpResponse(204, [], b"")
        if kind == "Event":
            pool.submit(event)
            return HttpResponse(202, [("Content-Type", "application/json")], b"")
        invocation = pool.invoke(event)
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        if invocation.ok:
            return HttpResponse(200, headers, json.dumps(invocation.result).encode())
        headers.append(("X-Amz-Function-Error", "Unhandled"))
        return HttpResponse(200, headers, json.dumps(invocation.error).encode())


def _first_accept(request: IncomingRequest) -> str | None:
    accept = request.header("Accept")
    return accept.split(",")[0] if accept else None


# --------------------------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    gateway: Gateway

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close idle keep-alive connections so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "filegate-local"
    sys_version = ""
    timeout = 30  # seconds of silence before a connection is dropped: a slow client never pins a thread
    server: _Server

    # ------------------------------------------------------------------ request loop

    def setup(self) -> None:
        super().setup()
        # Never let Nagle hold a small segment (a 100 Continue, the tail of a response) until the client's
        # delayed ACK: up to 40 ms per exchange, even on loopback.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        """Like BaseHTTPRequestHandler's, but every method goes to the gateway and nothing can hang it."""
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._serve()
            self.wfile.flush()
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        try:
            length = self._content_length()
        except _BadRequest:
            length = None
        if length is not None and length > MAX_PAYLOAD_BYTES:
            self._write(self.server.gateway.protocol_error(413, "Request Too Long", self.client_address[0]))
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed request lines and headers end here (400, 414, 431, 505...): a JSON gateway response.
        self.close_connection = True
        # Answer with a status line and headers even when the request line was not HTTP/1.x at all.
        self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            response = self.server.gateway.protocol_error(code, message or "Bad Request", self.client_address[0])
            response.status = code
            self._write(response)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ body

    def _content_length(self) -> int | None:
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len(set(values)) != 1 or not values[0].strip().isdigit():
            raise _BadRequest("invalid Content-Length")
        return int(values[0].strip())

    def _read_body(self) -> bytes:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self._content_length()
        if chunked and length is not None:
            raise _BadRequest("both Content-Length and Transfer-Encoding")
        if chunked:
            return self._read_chunked()
        if length is None or length == 0:
            return b""
        if length > MAX_PAYLOAD_BYTES:
            raise _BodyTooLarge
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadRequest("body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise _BadRequest("bad chunk header")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest("bad chunk size") from exc
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_PAYLOAD_BYTES:
                raise _BodyTooLarge
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise _BadRequest("truncated chunk")
            parts.append(chunk)
            self.rfile.readline(8)

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        gateway = self.server.gateway
        source_ip = self.client_address[0]
        # A header line without a colon ends the headers early. (Other "defects" the email parser reports,
        # like a multipart Content-Type without a body yet, are not errors in HTTP.)
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in self.headers.defects):
            self.close_connection = True
            self._write(gateway.protocol_error(400, "Malformed headers", source_ip))
            return
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body makes the connection unusable
            self._write(gateway.protocol_error(413, "Request Too Long", source_ip))
            return
        except _BadRequest as exc:
            self.close_connection = True
            self._write(gateway.protocol_error(400, str(exc), source_ip))
            return
        raw_path, _, query = self.path.partition("?")
        if not raw_path.startswith("/"):  # absolute-form request targets
            match = re.match(r"^[a-zA-Z]+://[^/]*(/.*)?$", raw_path)
            raw_path = (match.group(1) if match else None) or "/"
        request = IncomingRequest(
            method=self.command.upper(),
            raw_path=raw_path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=source_ip,
            gateway_port=self.server.server_address[1],
            protocol=self.request_version,
        )
        started = time.monotonic()
        response = gateway.handle(request)
        self._write(response, head=self.command.upper() == "HEAD")
        log.info(
            '%s "%s %s" %d %.1fms %s',
            source_ip,
            request.method,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
            request.request_id,
        )

    def _write(self, response: HttpResponse, head: bool = False) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(response.body)))
        if response.close or self.close_connection:
            self.close_connection = True
            self.send_header("Connection", "close")
        # The status line, headers and body in one sendall (one copy of the body is cheaper than a second
        # small segment on the wire).
        head_bytes = b""
        if self.request_version != "HTTP/0.9":  # what end_headers() does, without its separate write
            lines: list[bytes] = getattr(self, "_headers_buffer", [])
            head_bytes = b"".join([*lines, b"\r\n"])
            lines.clear()
        self.wfile.write(head_bytes + response.body if not head and response.body else head_bytes)
