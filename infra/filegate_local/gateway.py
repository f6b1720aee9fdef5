"""The local API Gateway (REST), emulating what template.yaml's API uses, and nothing else: `ApiGateway.answer`
routes, throttles, runs the cached REQUEST authorizer and the route's function (proxy event and response), else
answers with the template's gateway response. `Gateway` serves it over HTTP; tests/service/harness.py calls it
in-process. The events have the shapes `sam local generate-event apigateway` prints (tests/local/test_local_gateway.py).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from email.errors import MissingHeaderBodySeparatorDefect
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from filegate_local.model import ApiSpec, RouteSpec, StackModel
from filegate_local.template import ACCOUNT_ID, REGION
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.gateway")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# REST APIs rename these integration response headers to x-amzn-Remapped-<name> on the wire.
REMAPPED = frozenset({"authorization", "connection", "date", "server", "www-authenticate"})
INTEGRATION_TIMEOUT = "integration_timeout"  # an Invocation status: the function outlived the route's limit
AUTHORIZER_CACHE_ENTRIES = 50_000
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# Silence in a body: a loopback client never pauses this long while sending, so its body is short of its length.
BODY_STALL_SECONDS = 2.0

# (function logical id, event, seconds the caller waits or None) -> what the invocation gave.
Invoke = Callable[[str, dict[str, Any], float | None], Invocation]


# Hop-by-hop headers end at the edge; API Gateway sets the X-Forwarded-* trio itself.
DROPPED_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
    | {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
)


@dataclass
class IncomingRequest:
    method: str
    path: str  # as on the wire, without the query string
    query: str
    headers: list[tuple[str, str]]  # in arrival order, names as sent
    body: bytes
    source_ip: str
    gateway_port: int
    protocol: str = "HTTP/1.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """The last value of a header, case-insensitively (like API Gateway's `headers`)."""
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class ApiContext:
    api_id: str
    stage: str
    resource_path: str  # e.g. /v1/keys/{id}, or "" when no route matched
    path_parameters: dict[str, str]


def _maps(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def request_context(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """`requestContext` (gateway responses' `$context`); sourceIp is the TCP peer, whatever X-Forwarded-For says."""
    nulls = "cognitoIdentityPoolId accountId cognitoIdentityId caller accessKey apiKey clientCert user userArn"
    identity: dict[str, Any] = dict.fromkeys(f"{nulls} cognitoAuthenticationType cognitoAuthenticationProvider".split())
    identity |= {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")}
    return {
        "accountId": ACCOUNT_ID,
        "resourceId": hashlib.sha256(api.resource_path.encode()).hexdigest()[:6],
        "stage": api.stage,
        "requestId": request.request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_at)),
        "requestTimeEpoch": int(request.received_at * 1000),
        "identity": identity,
        "path": f"/{api.stage}{request.path}",
        "resourcePath": api.resource_path,
        "httpMethod": request.method,
        "apiId": api.api_id,
        "protocol": request.protocol,
        "domainName": request.header("Host") or f"{api.api_id}.execute-api.{REGION}.amazonaws.com",
    }


def _request_fields(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """What both events say of the request; header names merge case-insensitively (the first spelling)."""
    names: dict[str, str] = {}
    headers = [(names.setdefault(n.lower(), n), v) for n, v in request.headers if n.lower() not in DROPPED_HEADERS]
    forwarded = [v for n, v in request.headers if n.lower() == "x-forwarded-for"]
    headers += [("X-Forwarded-For", ", ".join([*forwarded, request.source_ip]))]
    headers += [("X-Forwarded-Port", str(request.gateway_port)), ("X-Forwarded-Proto", "http")]
    query = [p.partition("=") for p in request.query.split("&") if p]
    single_headers, multi_headers = _maps(headers)
    single_query, multi_query = _maps([(unquote(name), unquote(value)) for name, _, value in query])
    return {
        "resource": api.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": api.path_parameters,
        "requestContext": request_context(request, api),
    }


def proxy_event(
    request: IncomingRequest, api: ApiContext, *, binary: bool, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    """The Lambda proxy integration event: empty maps are null; a binary body is base64."""
    event: dict[str, Any] = {name: value or None for name, value in _request_fields(request, api).items()}
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    body = request.body
    text = (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")) if body else None
    return event | {"stageVariables": None, "body": text, "isBase64Encoded": bool(body) and binary}


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    answered_by: str = "gateway"  # or the logical id of the function whose proxy response this is


class GatewayRefusal(Exception):
    """The gateway answers itself: args are the gateway response type, its status and the authorizer context."""


def render(
    responses: dict[str, Any], kind: str, context: dict[str, Any], request_headers: dict[str, str], status: int = 0
) -> HttpResponse:
    """The template's gateway response `kind` (else DEFAULT_5XX/4XX by `status`): its StatusCode (else `status`),
    application/json template with `$context.*` filled in, headers from 'literals', context.* and method.request.*"""
    config = responses.get(kind) or responses["DEFAULT_5XX" if (status or 500) >= 500 else "DEFAULT_4XX"]
    requested = {name.lower(): value for name, value in request_headers.items()}

    def fill(template: str) -> str:  # unknown references render empty
        def lookup(match: re.Match[str]) -> str:
            value: Any = context
            for part in match[1][1:].split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            return "" if value is None else str(value)

        return re.sub(r"\$context((?:\.\w+)+)", lookup, template)

    answer = HttpResponse(int(config.get("StatusCode") or status or 500), [("Content-Type", "application/json")], b"")
    for name, expression in config.get("ResponseParameters", {}).get("Headers", {}).items():
        if expression.startswith("'"):
            value = expression.strip("'")
        elif expression.startswith("method.request.header."):
            value = requested.get(expression.removeprefix("method.request.header.").lower())
        else:
            value = fill(f"${expression}")
        if value:
            answer.headers.append((name, value))
    answer.body = fill(config.get("ResponseTemplates", {}).get("application/json", "")).encode()
    return answer


def authorizer_reply(reply: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(requestContext.authorizer, the policy's statements) of a REQUEST authorizer's reply, checked as API
    Gateway checks the shape filegate.keys.authorizer gives (Resource a list), else AUTHORIZER_CONFIGURATION_ERROR."""
    reply = reply if isinstance(reply, dict) else {}
    policy = reply.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    values = reply.get("context") or {}
    if not (
        isinstance(reply.get("principalId"), str)
        and isinstance(statements, list)
        and statements
        and all(isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") and s.get("Resource") for s in statements)
        and all(isinstance(s["Resource"], list) and all(isinstance(r, str) for r in s["Resource"]) for s in statements)
        and isinstance(values, dict)
        and all(isinstance(v, str | int | float | None) for v in values.values())
    ):
        raise GatewayRefusal("AUTHORIZER_CONFIGURATION_ERROR", 500)
    context: dict[str, Any] = {"principalId": reply["principalId"], "integrationLatency": 0}
    context |= {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items() if v is not None}
    return context, statements


def proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy integration's (status, headers, body); ValueError where API Gateway finds it malformed."""
    result = result if isinstance(result, dict) else {}
    status, body = result.get("statusCode"), result.get("body")
    status = int(status) if isinstance(status, str) and status.isdigit() else status
    headers, multi = result.get("headers") or {}, result.get("multiValueHeaders") or {}
    if not (
        type(status) is int
        and 100 <= status <= 599
        and isinstance(body, str | None)
        and isinstance(headers, dict)
        and not any(isinstance(v, dict | list) for v in headers.values())
        and isinstance(multi, dict)
        and all(isinstance(v, list) for v in multi.values())
    ):
        raise ValueError(f"a malformed proxy response: {str(result)[:200]}")
    pairs = [(n, v) for n, values in multi.items() for v in values]
    pairs += [(n, v) for n, v in headers.items() if n.lower() not in {m.lower() for m in multi}]
    pairs = [(n, str(v).lower() if isinstance(v, bool) else "" if v is None else str(v)) for n, v in pairs]
    pairs = [(n, v) for n, v in pairs if n.lower() not in ("content-length", "transfer-encoding")]
    if not any(n.lower() == "content-type" for n, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    raw = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") and body else (body or "").encode()
    return status, pairs, raw


class ApiGateway:
    """One API of the template in front of `invoke`; `cache_authorizer=False` authorizes every request afresh."""

    def __init__(self, api: ApiSpec, invoke: Invoke, *, cache_authorizer: bool = True) -> None:
        self.api, self.invoke, self.caching = api, invoke, cache_authorizer
        methods: dict[str, dict[str, RouteSpec]] = {}
        for route in api.routes:
            methods.setdefault(route.path, {})[route.method] = route
        # Most specific first: a literal segment beats a {parameter}, left to right; a {greedy+} comes last.
        order = sorted(methods, key=lambda p: [0 if s.endswith("+}") else 1 + (s[:1] != "{") for s in p.split("/")])
        self.routes = [(re.compile(_pattern(path)), path, methods[path]) for path in reversed(order)]
        self.capacity = float(max(api.throttle.burst_limit, 1)) if api.throttle else math.inf
        self.tokens, self.updated = self.capacity, time.monotonic()
        self.cache: dict[tuple[str, ...], tuple[float, dict[str, Any], list[dict[str, Any]]]] = {}
        self.lock = threading.Lock()

    def context_for(self, request: IncomingRequest) -> tuple[ApiContext, RouteSpec | None]:
        path = "/".join(s for s in request.path.split("/") if s)
        for pattern, resource, methods in self.routes:
            if match := pattern.fullmatch(path):
                route = methods.get(request.method) or methods.get("ANY")
                return ApiContext(self.api.api_id, self.api.stage, resource, match.groupdict()), route
        return ApiContext(self.api.api_id, self.api.stage, "", {}), None

    def answer(self, request: IncomingRequest, cached_authorizer: Mapping[str, Any] | None = None) -> HttpResponse:
        """The answer; `cached_authorizer`: an earlier allowing context, as while API Gateway caches a policy."""
        api, route = self.context_for(request)
        try:
            if route is None or request.method not in HTTP_METHODS:
                raise GatewayRefusal("MISSING_AUTHENTICATION_TOKEN", 403)
            if self.throttled():
                raise GatewayRefusal("THROTTLED", 429)
            authorizer = None
            if route.authorizer is not None:
                authorizer = dict(cached_authorizer) if cached_authorizer is not None else self.authorize(request, api)
            media = (request.header("Content-Type") or "").split(";")[0].strip().lower()
            binary = any(fnmatch.fnmatchcase(media, pattern) for pattern in self.api.binary_media_types)
            event = proxy_event(request, api, binary=binary, authorizer=authorizer)
            invocation = self.invoke(route.function, event, route.integration_timeout_ms / 1000)
            if invocation.status == INTEGRATION_TIMEOUT:  # the function runs on (as in AWS); the client is told
                raise GatewayRefusal("INTEGRATION_TIMEOUT", 504)
            if invocation.status == "too_large":  # over Lambda's invoke payload limit
                raise GatewayRefusal("REQUEST_TOO_LARGE", 413)
            if invocation.ok:
                with contextlib.suppress(ValueError):  # a malformed proxy response
                    return HttpResponse(*proxy_response(invocation.result), answered_by=route.function)
            # Raised, timed out, crashed or malformed: API Gateway's 502.
            log.warning("%s: a 502 for %s", route.function, str(invocation.error or invocation.result)[:500])
            raise GatewayRefusal("DEFAULT_5XX", 502)
        except GatewayRefusal as refusal:
            return self.gateway_response(request, *refusal.args)

    def throttled(self) -> bool:
        """The stage's throttling (MethodSettings on "/*" "*"): a token bucket of `burst` at `rate` per second."""
        with self.lock:
            now, rate = time.monotonic(), self.api.throttle.rate_limit if self.api.throttle else 0.0
            self.tokens, self.updated = min(self.capacity, self.tokens + (now - self.updated) * rate), now
            if self.tokens < 1:
                return True
            self.tokens -= 1
            return False

    def authorize(self, request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
        """The authorizer's context for the integration, or GatewayRefusal (401, 403, 500)."""
        spec = self.api.authorizer
        assert spec is not None
        # The identity sources: headers, then identity.sourceIp (the one context source in use).
        identity = tuple([request.header(h) or "" for h in spec.headers] + [request.source_ip] * len(spec.context))
        if "" in identity and spec.ttl_seconds > 0:  # API Gateway checks identity sources only when caching
            raise GatewayRefusal("UNAUTHORIZED", 401)
        with self.lock:
            cached = self.cache.get(identity)
        arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.api_id}/{api.stage}/{request.method}{request.path}"
        if cached is None or cached[0] <= time.monotonic():
            event = {"type": "REQUEST", "methodArn": arn, **_request_fields(request, api), "stageVariables": {}}
            invocation = self.invoke(spec.function, event, None)
            if not invocation.ok:
                unauthorized = (invocation.error or {}).get("errorMessage") == "Unauthorized"
                raise GatewayRefusal(*(("UNAUTHORIZED", 401) if unauthorized else ("AUTHORIZER_FAILURE", 500)))
            cached = (time.monotonic() + spec.ttl_seconds, *authorizer_reply(invocation.result))
            with self.lock:
                if self.caching and spec.ttl_seconds > 0:
                    if len(self.cache) >= AUTHORIZER_CACHE_ENTRIES:  # bounded: the oldest entry goes
                        self.cache.pop(next(iter(self.cache)))
                    self.cache[identity] = cached
        _, context, statements = cached
        # Checked for every route: of the statements matching the ARN (`*` spans anything), a Deny refuses, else an
        # Allow admits.
        matching = [s for s in statements if any(fnmatch.fnmatchcase(arn, resource) for resource in s["Resource"])]
        if {s["Effect"] for s in matching} != {"Allow"}:
            raise GatewayRefusal("ACCESS_DENIED", 403, context)
        return context

    def gateway_response(
        self, request: IncomingRequest, kind: str, status: int = 0, authorizer: Mapping[str, Any] | None = None
    ) -> HttpResponse:
        context = request_context(request, self.context_for(request)[0])
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        return render(self.api.gateway_responses, kind, context, request_headers=dict(request.headers), status=status)


def _pattern(path: str) -> str:
    """A resource path as a regular expression: `{name}` one segment, `{name+}` one or more."""
    parameter = r"\\\{(\w+)(\\\+)?\\\}"  # as re.escape writes {name} and {name+}
    return re.sub(parameter, lambda m: f"(?P<{m[1]}>{'.+' if m[2] else '[^/]+'})", re.escape(path.strip("/")))


class _Handler(BaseHTTPRequestHandler):
    """http.server's parsing; the gateway answers every method, and refuses what it will not serve in time."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # silence before a request starts: a slow client never pins a thread
    server: Gateway

    def setup(self) -> None:
        super().setup()
        # Never let Nagle hold a small segment (a 100 Continue, the tail of a response) until the client's
        # delayed ACK: up to 40 ms per exchange, even on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any method: the gateway answers those the API lacks with its 404
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's answer to a request it cannot parse (400, 414, 431, 505...)."""
        self._refuse(GatewayRefusal("DEFAULT_4XX", code), [])

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def handle_expect_100(self) -> bool:
        try:
            self._length()
        except GatewayRefusal as refusal:
            self._refuse(refusal, list(self.headers.items()))
            return False
        return super().handle_expect_100()

    def _length(self) -> int:
        values = set(self.headers.get_all("Content-Length") or ["0"])
        value = values.pop().strip() if len(values) == 1 else ""
        if not value.isdigit():
            raise GatewayRefusal("DEFAULT_4XX", 400)
        if int(value) > MAX_PAYLOAD_BYTES:
            raise GatewayRefusal("REQUEST_TOO_LARGE", 413)
        return int(value)

    def _exactly(self, size: int) -> bytes:
        if size < 0 or len(data := self.rfile.read(size)) != size:
            raise GatewayRefusal("DEFAULT_4XX", 400)
        return data

    def _body(self) -> bytes:
        """The Content-Length or chunked body, or GatewayRefusal; the socket's timeout ends one that stops short."""
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in self.headers.defects):
            raise GatewayRefusal("DEFAULT_4XX", 400)  # a header line without a colon
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self._exactly(self._length())
        if self.headers.get("Content-Length") is not None:
            raise GatewayRefusal("DEFAULT_4XX", 400)
        parts: list[bytes] = []
        while size := int(self.rfile.readline(1024).split(b";")[0], 16):
            if sum(map(len, parts)) + size > MAX_PAYLOAD_BYTES:
                raise GatewayRefusal("REQUEST_TOO_LARGE", 413)
            parts.append(self._exactly(size))
            self.rfile.readline(8)
        while self.rfile.readline(8192).strip():  # trailers
            pass
        return b"".join(parts)

    def _serve(self) -> None:
        self.connection.settimeout(BODY_STALL_SECONDS)
        try:
            body = self._body()
        except (GatewayRefusal, ValueError, TimeoutError) as exc:  # ValueError: a bad chunk size
            log.info("%s: refused %r", self.client_address[0], exc)
            refusal = exc if isinstance(exc, GatewayRefusal) else GatewayRefusal("DEFAULT_4XX", 400)
            self._refuse(refusal, list(self.headers.items()))
            return
        finally:
            self.connection.settimeout(self.timeout)
        path, _, query = self.path.partition("?")
        ip, port = self.client_address[0], self.server.port
        request = IncomingRequest(self.command.upper(), path, query, list(self.headers.items()), body, ip, port)
        request.protocol = self.request_version
        response = self.server.handle(request)
        self._write(response, head=request.method == "HEAD")
        log.info('%s "%s %s" %d %s', ip, request.method, self.path, response.status, request.request_id)

    def _refuse(self, refusal: GatewayRefusal, headers: list[tuple[str, str]]) -> None:
        """The gateway response to a request the transport will not serve; the connection is closed."""
        self.close_connection = True
        request = IncomingRequest("GET", "/", "", headers, b"", self.client_address[0], self.server.port)
        self._write(self.server.handle(request, refusal))

    def _write(self, response: HttpResponse, head: bool = False) -> None:
        """Status line, headers and body in one send (one copy of the body costs less than a second segment)."""
        headers = [*response.headers, ("Date", formatdate(usegmt=True)), ("Content-Length", str(len(response.body)))]
        headers += [("Connection", "close")] if self.close_connection else []
        reason = self.responses.get(response.status, ("",))[0]
        lines = [f"HTTP/1.1 {response.status} {reason}", *(f"{n}: {v}" for n, v in headers), "", ""]
        self.wfile.write("\r\n".join(lines).encode("latin-1") + (b"" if head else response.body))


class Gateway(ThreadingHTTPServer):
    """`ApiGateway` over HTTP at the root (the stage is in the events), invoking the workers; a thread a connection."""

    daemon_threads = True
    block_on_close = False  # closing does not wait for requests in flight: stopping has a deadline
    request_queue_size = 256

    def __init__(self, model: StackModel, pools: Mapping[str, FunctionPool], *, host: str = "127.0.0.1", port: int):
        super().__init__((host, port), _Handler, bind_and_activate=False)
        self.pools, self.host, self.port = pools, host, port
        self.primary_api: ApiSpec = next(iter(model.apis.values()))  # the template's one API
        self.core = ApiGateway(self.primary_api, self._invoke)
        self.connections: set[socket.socket] = set()  # shut on stop, so idle keep-alive threads end too
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _invoke(self, function: str, event: dict[str, Any], timeout: float | None) -> Invocation:
        request_id, pool = str(uuid.uuid4()), self.pools[function]
        try:  # the authorizer (no timeout) in this thread; a route's function runs on past its timeout
            return pool.invoke(event, request_id) if timeout is None else pool.submit(event, request_id).result(timeout)
        except FutureTimeout:
            return Invocation(request_id, INTEGRATION_TIMEOUT)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s went away", client_address, exc_info=True)  # or stopping closed its connection

    def listen(self) -> None:
        """Bind the port (0: a free one) for `url`, answering nothing yet: a client waits in the backlog meanwhile."""
        self.server_bind()
        self.server_activate()
        self.port = int(self.server_address[1])

    def serve(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.2,), name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()  # waits for serve_forever to return: it would wait forever without one
            self._thread = None
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def handle(self, request: IncomingRequest, refusal: GatewayRefusal | None = None) -> HttpResponse:
        """The answer over HTTP (`refusal`: the transport's own), a function's reserved headers remapped."""
        try:
            response = self.core.gateway_response(request, *refusal.args) if refusal else self.core.answer(request)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            response = self.core.gateway_response(request, "DEFAULT_5XX", 500)
        if response.answered_by != "gateway":  # only gateway responses may set these
            response.headers = [
                (f"x-amzn-Remapped-{n}" if n.lower() in REMAPPED else n, v) for n, v in response.headers
            ]
        response.headers.append(("x-amzn-RequestId", request.request_id))
        return response
