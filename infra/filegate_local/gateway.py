"""The local API Gateway (REST), emulating what template.yaml's API uses, and nothing else.

One request path, `ApiGateway.answer`: route (unknown -> MISSING_AUTHENTICATION_TOKEN) -> stage throttling
(THROTTLED) -> the REQUEST authorizer (cached per identity) and its policy for the method ARN -> the route's
function with a proxy event -> its proxy response, checked as API Gateway checks it (an error, a crash or a
malformed reply is a 502 through DEFAULT_5XX; a slow one a 504 INTEGRATION_TIMEOUT). Every answer of the
gateway's own is the template's gateway response.

Two users: `Gateway` serves it over HTTP for `make dev` and the integration tests (with the worker pools),
and the service tests call it in-process (tests/service/harness.py) with the handlers imported there.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from filegate_local.events import (
    ApiContext,
    IncomingRequest,
    method_arn,
    proxy_event,
    request_authorizer_event,
    request_context,
)
from filegate_local.gateway_responses import GatewayResponses
from filegate_local.model import ApiSpec, AuthorizerSpec, RouteSpec, StackModel
from filegate_local.transport import GatewayRequestHandler, GatewayServer, HttpResponse
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.gateway")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# REST APIs rename these integration response headers to x-amzn-Remapped-<name> on the wire.
REMAPPED_RESPONSE_HEADERS = frozenset({"authorization", "connection", "date", "server", "www-authenticate"})
DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding"})
INTEGRATION_TIMEOUT = "integration_timeout"  # an Invocation status: the function outlived the route's limit
AUTHORIZER_CACHE_ENTRIES = 50_000

# (function logical id, event, seconds the caller waits or None) -> what the invocation gave.
Invoke = Callable[[str, dict[str, Any], float | None], Invocation]


class GatewayRefusal(Exception):
    """The gateway answers itself: a gateway response type, and what it renders with."""

    def __init__(self, response_type: str, *, status: int | None = None, authorizer: Mapping[str, Any] | None = None):
        super().__init__(response_type)
        self.response_type, self.status, self.authorizer = response_type, status, authorizer


# --------------------------------------------------------------------------------------------- routes


@dataclass
class Resource:
    """An API Gateway resource (a path) with its methods."""

    path: str
    segments: tuple[str, ...]
    methods: dict[str, RouteSpec] = field(default_factory=dict)

    def bind(self, parts: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity, path parameters) if this resource matches: a literal segment beats a parameter,
        left to right, and `{name+}` (one segment or more) comes last."""
        score: list[int] = []
        parameters: dict[str, str] = {}
        for index, pattern in enumerate(self.segments):
            if index >= len(parts):
                return None
            if pattern.endswith("+}"):
                parameters[pattern[1:-2]] = "/".join(parts[index:])
                return (*score, 0), parameters
            if pattern.startswith("{"):
                parameters[pattern[1:-1]] = parts[index]
                score.append(1)
            elif pattern == parts[index]:
                score.append(2)
            else:
                return None
        return (tuple(score), parameters) if len(parts) == len(self.segments) else None


def resources_of(api: ApiSpec) -> list[Resource]:
    by_path: dict[str, Resource] = {}
    for route in api.routes:
        resource = by_path.setdefault(route.path, Resource(route.path, tuple(s for s in route.path.split("/") if s)))
        if route.method in resource.methods:
            raise ValueError(f"duplicate route {route.method} {route.path}")
        resource.methods[route.method] = route
    return list(by_path.values())


# --------------------------------------------------------------------------------------------- authorizer


class PolicyError(ValueError):
    """The authorizer's reply is not a usable policy (AUTHORIZER_CONFIGURATION_ERROR)."""


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise PolicyError(f"{name} must be a string or a list of strings")


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    """The policy's statements, in the one shape filegate.keys.authorizer.policy_for gives: Effect Allow or
    Deny, Action execute-api:Invoke, Resource method ARNs where `*` stands for any run of characters."""
    raw = policy.get("Statement") if isinstance(policy, Mapping) else None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, Mapping) for s in raw):
        raise PolicyError("policyDocument.Statement must be a non-empty list of objects")
    for statement in raw:
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError("Statement.Effect must be Allow or Deny")
        if _strings(statement.get("Action"), "Action") != ["execute-api:Invoke"]:
            raise PolicyError("Statement.Action must be execute-api:Invoke")
        _strings(statement.get("Resource"), "Resource")
    return raw


def policy_allows(policy: Mapping[str, Any], arn: str) -> bool:
    """A statement whose Resource matches the method ARN decides: any Deny refuses, else an Allow admits;
    none matching refuses."""
    effects = {
        s["Effect"]
        for s in _statements(policy)
        if any(fnmatch.fnmatchcase(arn, r) for r in _strings(s["Resource"], ""))
    }
    return effects == {"Allow"}


def authorizer_context(reply: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """(requestContext.authorizer as the integration sees it, the policy) from a REQUEST authorizer's reply,
    checked as API Gateway checks it; context values reach the functions as strings."""
    if not isinstance(reply, Mapping) or not isinstance(reply.get("principalId"), str):
        raise PolicyError("principalId is required")
    policy = reply.get("policyDocument")
    _statements(policy)
    context: dict[str, Any] = {"principalId": reply["principalId"], "integrationLatency": 0}
    for name, value in (reply.get("context") or {}).items():
        if isinstance(value, bool):
            context[str(name)] = str(value).lower()
        elif isinstance(value, str | int | float):
            context[str(name)] = str(value)
        elif value is not None:
            raise PolicyError(f"context.{name} must be a string, number or boolean")
    assert isinstance(policy, Mapping)
    return context, policy


class AuthorizerCache:
    """API Gateway's authorizer cache: one reply per identity (the identity sources' values), for the TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any], Mapping[str, Any]]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, identity: tuple[str, ...]) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
        with self._lock:
            entry = self._entries.get(identity)
            if entry is None or entry[0] <= self._clock():
                self._entries.pop(identity, None)
                return None
            return entry[1], entry[2]

    def put(self, identity: tuple[str, ...], context: dict[str, Any], policy: Mapping[str, Any], ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= AUTHORIZER_CACHE_ENTRIES:  # bounded: the oldest entry goes
                self._entries.pop(next(iter(self._entries)))
            self._entries[identity] = (self._clock() + ttl, context, policy)


def identity_of(spec: AuthorizerSpec, request: IncomingRequest) -> tuple[str, ...] | None:
    """The identity sources' values (headers, then the source IP if named); None when one is missing."""
    values = [request.header(name) or "" for name in spec.headers]
    values.extend(request.source_ip for _ in spec.context)  # identity.sourceIp, the one context source in use
    return None if "" in values else tuple(values)


# --------------------------------------------------------------------------------------------- the request path


class TokenBucket:
    """The stage's throttling (MethodSettings on "/*" "*"): a token bucket of `burst` at `rate` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(max(burst, 1))
        self.tokens, self.updated = self.capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class ApiGateway:
    """One API of the template in front of `invoke`; `cache_authorizer=False` authorizes every request afresh."""

    def __init__(self, api: ApiSpec, invoke: Invoke, *, cache_authorizer: bool = True) -> None:
        self.api = api
        self.invoke = invoke
        self.resources = resources_of(api)
        self.responses = GatewayResponses(api.gateway_responses)
        self.throttle = TokenBucket(api.throttle.rate_limit, api.throttle.burst_limit) if api.throttle else None
        self.cache = AuthorizerCache() if cache_authorizer else None

    def match(self, path: str) -> tuple[Resource, dict[str, str]] | None:
        parts = [s for s in path.split("/") if s]
        bound = [(found, r) for r in self.resources if (found := r.bind(parts)) is not None]
        if not bound:
            return None
        (_, parameters), resource = max(bound, key=lambda b: b[0][0])
        return resource, parameters

    def context_for(self, request: IncomingRequest) -> tuple[ApiContext, RouteSpec | None]:
        matched = self.match(request.path)
        if matched is None:
            return ApiContext(self.api.api_id, self.api.stage, "", {}), None
        resource, parameters = matched
        route = resource.methods.get(request.method) or resource.methods.get("ANY")
        return ApiContext(self.api.api_id, self.api.stage, resource.path, parameters), route

    def answer(self, request: IncomingRequest, cached_authorizer: Mapping[str, Any] | None = None) -> HttpResponse:
        """The gateway's answer; `cached_authorizer` serves the request from an earlier allowing context
        without calling the authorizer (a policy API Gateway still caches)."""
        request.request_id = request.request_id or str(uuid.uuid4())
        api, route = self.context_for(request)
        try:
            if route is None or request.method not in HTTP_METHODS:
                raise GatewayRefusal("MISSING_AUTHENTICATION_TOKEN")
            if self.throttle is not None and not self.throttle.take():
                raise GatewayRefusal("THROTTLED")
            authorizer: dict[str, Any] | None = None
            if route.authorizer is not None:
                authorizer = dict(cached_authorizer) if cached_authorizer is not None else self.authorize(request, api)
            return self.integrate(request, api, route, authorizer)
        except GatewayRefusal as refusal:
            return self.gateway_response(refusal, request, api)

    def authorize(self, request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
        """The authorizer's context for the integration, or GatewayRefusal (401, 403, 500)."""
        spec = self.api.authorizer
        assert spec is not None
        identity = identity_of(spec, request)
        if identity is None and spec.ttl_seconds > 0:  # API Gateway checks identity sources only when caching
            raise GatewayRefusal("UNAUTHORIZED")
        cached = self.cache.get(identity) if self.cache is not None and identity is not None else None
        if cached is None:
            invocation = self.invoke(spec.function, request_authorizer_event(request, api), None)
            if not invocation.ok:
                unauthorized = (invocation.error or {}).get("errorMessage") == "Unauthorized"
                raise GatewayRefusal("UNAUTHORIZED" if unauthorized else "AUTHORIZER_FAILURE")
            try:
                cached = authorizer_context(invocation.result)
            except PolicyError as exc:
                log.warning("authorizer reply refused: %s", exc)
                raise GatewayRefusal("AUTHORIZER_CONFIGURATION_ERROR") from exc
            if self.cache is not None and identity is not None and spec.ttl_seconds > 0:
                self.cache.put(identity, *cached, spec.ttl_seconds)
        context, policy = cached
        if not policy_allows(policy, method_arn(request, api)):  # a cached policy is checked for every route
            raise GatewayRefusal("ACCESS_DENIED", authorizer=context)
        return context

    def integrate(
        self, request: IncomingRequest, api: ApiContext, route: RouteSpec, authorizer: dict[str, Any] | None
    ) -> HttpResponse:
        binary = media_type_matches(request.header("Content-Type"), self.api.binary_media_types)
        event = proxy_event(request, api, binary=binary, authorizer=authorizer)
        invocation = self.invoke(route.function, event, route.integration_timeout_ms / 1000)
        if invocation.status == INTEGRATION_TIMEOUT:  # the function runs on (as in AWS); the client is told
            raise GatewayRefusal("INTEGRATION_TIMEOUT")
        if invocation.status == "too_large":
            raise GatewayRefusal("REQUEST_TOO_LARGE")
        if not invocation.ok:  # raised, timed out, crashed: API Gateway's 502
            log.warning(
                "%s failed (%s): %s", route.function, invocation.status, (invocation.error or {}).get("errorType")
            )
            raise GatewayRefusal("DEFAULT_5XX", status=502)
        try:
            status, headers, body = proxy_response(invocation.result)
        except MalformedProxyResponse as exc:
            log.warning("%s returned a malformed proxy response: %s", route.function, exc)
            raise GatewayRefusal("DEFAULT_5XX", status=502) from exc
        return HttpResponse(status, headers, body, answered_by=route.function)

    def gateway_response(self, refusal: GatewayRefusal, request: IncomingRequest, api: ApiContext) -> HttpResponse:
        context = request_context(request, api)
        if refusal.authorizer is not None:
            context["authorizer"] = dict(refusal.authorizer)
        rendered = self.responses.render(
            refusal.response_type,
            context,
            status=refusal.status,
            request_headers={name: value for name, value in request.headers},
        )
        return HttpResponse(rendered.status, rendered.headers, rendered.body)


# --------------------------------------------------------------------------------------------- proxy responses


class MalformedProxyResponse(ValueError):
    pass


def proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy integration result as (status, headers, body), or MalformedProxyResponse."""
    if not isinstance(result, Mapping):
        raise MalformedProxyResponse("the function did not return an object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not a valid HTTP status")
    headers, multi = result.get("headers") or {}, result.get("multiValueHeaders") or {}
    if not isinstance(headers, Mapping) or not isinstance(multi, Mapping):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    pairs: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders.{name} must be a list")
        pairs.extend((str(name), _scalar(v)) for v in values)
    multi_names = {str(k).lower() for k in multi}
    for name, value in headers.items():
        if isinstance(value, Mapping | list):
            raise MalformedProxyResponse(f"headers.{name} must be a scalar")
        if str(name).lower() not in multi_names:
            pairs.append((str(name), _scalar(value)))
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    raw = (body or "").encode()
    if result.get("isBase64Encoded") and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedProxyResponse("body is not valid base64") from exc
    pairs = [(n, v) for n, v in pairs if n.lower() not in DROPPED_RESPONSE_HEADERS]
    if not any(n.lower() == "content-type" for n, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    return status, pairs, raw


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else "" if value is None else str(value)


def media_type_matches(content_type: str | None, patterns: tuple[str, ...]) -> bool:
    """Whether a Content-Type is one of the API's binary media types (`*` wildcards, as in `*/*`)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return bool(media) and any(fnmatch.fnmatchcase(media, p.lower()) for p in patterns)


# --------------------------------------------------------------------------------------------- over HTTP


class Gateway:
    """`ApiGateway` over HTTP on host:port, at the root (the stage is in the events), invoking the workers."""

    def __init__(
        self, model: StackModel, pools: Mapping[str, FunctionPool], *, host: str = "127.0.0.1", port: int = 3000
    ):
        self.model = model
        self.pools = pools
        self.host = host
        self.port = port
        api = self.primary_api
        assert api is not None, "the template has no API"
        self.core = ApiGateway(api, self._invoke)
        self._server: GatewayServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def primary_api(self) -> ApiSpec | None:
        return next(iter(self.model.apis.values()), None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _invoke(self, function: str, event: dict[str, Any], timeout: float | None) -> Invocation:
        request_id = str(uuid.uuid4())
        if timeout is None:
            return self.pools[function].invoke(event, request_id)
        try:
            return self.pools[function].submit(event, request_id).result(timeout=timeout)
        except FutureTimeout:
            return Invocation(request_id, INTEGRATION_TIMEOUT)

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

    def handle(self, request: IncomingRequest) -> HttpResponse:
        request.request_id = request.request_id or str(uuid.uuid4())
        try:
            response = self.core.answer(request)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            api, _ = self.core.context_for(request)
            response = self.core.gateway_response(GatewayRefusal("DEFAULT_5XX", status=500), request, api)
        if response.answered_by != "gateway":  # only gateway responses may set these
            response.headers = [
                (f"x-amzn-Remapped-{n}" if n.lower() in REMAPPED_RESPONSE_HEADERS else n, v)
                for n, v in response.headers
            ]
        response.headers.append(("x-amzn-RequestId", request.request_id))
        response.headers.append(("x-amz-apigw-id", request.extended_request_id))
        return response

    def protocol_error(self, status: int, source_ip: str, headers: list[tuple[str, str]]) -> HttpResponse:
        """A request we could not even parse, or one too large: DEFAULT_4XX (or REQUEST_TOO_LARGE, which
        renders the request's headers), connection closed."""
        request = IncomingRequest("GET", "/", "", headers, b"", source_ip, self.port, request_id=str(uuid.uuid4()))
        api, _ = self.core.context_for(request)
        refusal = GatewayRefusal("REQUEST_TOO_LARGE") if status == 413 else GatewayRefusal("DEFAULT_4XX", status=status)
        response = self.core.gateway_response(refusal, request, api)
        response.headers.append(("x-amzn-RequestId", request.request_id))
        response.close = True
        return response
