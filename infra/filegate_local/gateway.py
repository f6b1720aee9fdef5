"""The local API Gateway (REST), emulating what template.yaml's API uses, and nothing else.

`ApiGateway.answer` is the one request path: route, stage throttling, the REQUEST authorizer (cached per
identity) and its policy, the route's function with a proxy event, its proxy response; every answer of the
gateway's own is the template's gateway response. `Gateway` serves it over HTTP (`make dev`, the integration
tests); tests/service/harness.py calls it in-process, in front of the handlers imported there.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from email.errors import MissingHeaderBodySeparatorDefect
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from filegate_local import events
from filegate_local.events import ApiContext, IncomingRequest
from filegate_local.model import ApiSpec, RouteSpec, StackModel
from filegate_local.workers import FunctionPool, Invocation

log = logging.getLogger("filegate_local.gateway")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# REST APIs rename these integration response headers to x-amzn-Remapped-<name> on the wire.
REMAPPED_RESPONSE_HEADERS = frozenset({"authorization", "connection", "date", "server", "www-authenticate"})
INTEGRATION_TIMEOUT = "integration_timeout"  # an Invocation status: the function outlived the route's limit
AUTHORIZER_CACHE_ENTRIES = 50_000
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
IDLE_CONNECTION_SECONDS = 30  # silence before a request starts: a slow client never pins a thread
# Silence in the middle of a body: the client sent less than its Content-Length and waits for an answer.
# Loopback clients never pause this long while sending, so this is a short body, not a slow one.
BODY_STALL_SECONDS = 2.0

# (function logical id, event, seconds the caller waits or None) -> what the invocation gave.
Invoke = Callable[[str, dict[str, Any], float | None], Invocation]


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    answered_by: str = "gateway"  # or the logical id of the function whose proxy response this is


class GatewayRefusal(Exception):
    """The gateway answers itself: args are the gateway response type, its status and the authorizer context."""


def render(
    configured: Mapping[str, Any],
    kind: str,
    context: Mapping[str, Any],
    *,
    request_headers: Mapping[str, str] | None = None,
    status: int | None = None,
) -> HttpResponse:
    """The template's gateway response `kind` (else its DEFAULT_5XX/4XX by `status`) with its StatusCode (else
    `status`), its application/json template filled in, and headers from 'literals', `context.*` and
    `method.request.header.*`."""
    config = configured.get(kind) or configured["DEFAULT_5XX" if (status or 500) >= 500 else "DEFAULT_4XX"]
    requested = {name.lower(): value for name, value in (request_headers or {}).items()}

    def fill(template: str) -> str:  # $context.a.b references; unknown ones render empty
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


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else value if isinstance(value, list) else []


def policy_allows(statements: list[dict[str, Any]], arn: str) -> bool:
    """Statements whose Resource matches the method ARN (`*` spans any characters) decide: any Deny refuses,
    else an Allow admits; none matching refuses."""
    matching = [s for s in statements if any(fnmatch.fnmatchcase(arn, r) for r in _strings(s.get("Resource")))]
    return {s["Effect"] for s in matching} == {"Allow"}


def authorizer_reply(reply: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(requestContext.authorizer, the policy's statements) of a REQUEST authorizer's reply in the shape
    filegate.keys.authorizer gives; else AUTHORIZER_CONFIGURATION_ERROR, as API Gateway refuses it."""
    reply = reply if isinstance(reply, dict) else {}
    policy = reply.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    values = reply.get("context") or {}
    if not (
        isinstance(reply.get("principalId"), str)
        and isinstance(statements, list)
        and statements
        and all(isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") for s in statements)
        and all(_strings(s.get("Action")) == ["execute-api:Invoke"] and _strings(s.get("Resource")) for s in statements)
        and isinstance(values, dict)
        and all(isinstance(v, str | int | float | None) for v in values.values())
    ):
        raise GatewayRefusal("AUTHORIZER_CONFIGURATION_ERROR", 500)
    context: dict[str, Any] = {"principalId": reply["principalId"], "integrationLatency": 0}
    context |= {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items() if v is not None}
    return context, statements


def proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy integration's result as (status, headers, body); ValueError if API Gateway finds it
    malformed."""
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
        self.capacity = float(max(api.throttle.burst_limit, 1)) if api.throttle else 0.0
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
        """The gateway's answer; `cached_authorizer` serves the request from an earlier allowing context
        without calling the authorizer (a policy API Gateway still caches)."""
        request.request_id = request.request_id or str(uuid.uuid4())
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
            event = events.proxy_event(request, api, binary=binary, authorizer=authorizer)
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
        if self.api.throttle is None:
            return False
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.api.throttle.rate_limit)
            self.updated = now
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
        if cached is None or cached[0] <= time.monotonic():
            invocation = self.invoke(spec.function, events.authorizer_event(request, api), None)
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
        if not policy_allows(statements, events.method_arn(request, api)):  # checked for every route
            raise GatewayRefusal("ACCESS_DENIED", 403, context)
        return context

    def gateway_response(
        self, request: IncomingRequest, kind: str, status: int | None, authorizer: Mapping[str, Any] | None = None
    ) -> HttpResponse:
        context = events.request_context(request, self.context_for(request)[0])
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        headers = dict(request.headers)
        return render(self.api.gateway_responses, kind, context, request_headers=headers, status=status)


def _pattern(path: str) -> str:
    """A resource path as a regular expression, its {parameters} named groups."""
    segments = [s for s in path.split("/") if s]
    return "/".join(
        f"(?P<{s.strip('{+}')}>{'.+' if s.endswith('+}') else '[^/]+'})" if s[:1] == "{" else re.escape(s)
        for s in segments
    )


class _Handler(BaseHTTPRequestHandler):
    """http.server's parsing; every method goes to the gateway, which answers what cannot be parsed, a body
    over the payload limit (before it is sent) and one that stops short with its gateway responses."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
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

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away, or stopping closed the connection
            self.close_connection = True

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
        """The Content-Length or chunked body, or GatewayRefusal; the caller's socket timeout ends a body that
        stops short."""
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
        started = time.monotonic()
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
        took = (time.monotonic() - started) * 1000
        log.info('%s "%s %s" %d %.1fms %s', ip, request.method, self.path, response.status, took, request.request_id)

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
    """`ApiGateway` over HTTP on host:port, at the root (the stage is in the events), invoking the workers;
    one daemon thread per connection."""

    daemon_threads = True
    block_on_close = False  # closing does not wait for requests in flight: stopping has a deadline
    request_queue_size = 256

    def __init__(
        self, model: StackModel, pools: Mapping[str, FunctionPool], *, host: str = "127.0.0.1", port: int = 3000
    ):
        super().__init__((host, port), _Handler, bind_and_activate=False)
        self.model, self.pools, self.host, self.port = model, pools, host, port
        assert self.primary_api is not None, "the template has no API"
        self.core = ApiGateway(self.primary_api, self._invoke)
        self.connections: set[socket.socket] = set()  # shut on stop, so idle keep-alive threads end too
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
        self.server_bind()
        self.server_activate()
        self.port = int(self.server_address[1])

    def serve(self) -> None:
        """Answer requests, in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.2,), name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()  # waits for serve_forever to return: it would wait forever without one
            self._thread.join(timeout=5)
            self._thread = None
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def handle(self, request: IncomingRequest, refusal: GatewayRefusal | None = None) -> HttpResponse:
        """The answer over HTTP (`refusal`: the transport's own); a function's reserved headers are remapped,
        and every answer carries x-amzn-RequestId."""
        request.request_id = request.request_id or str(uuid.uuid4())
        try:
            response = self.core.gateway_response(request, *refusal.args) if refusal else self.core.answer(request)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            response = self.core.gateway_response(request, "DEFAULT_5XX", 500)
        if response.answered_by != "gateway":  # only gateway responses may set these
            remapped = [
                (f"x-amzn-Remapped-{n}" if n.lower() in REMAPPED_RESPONSE_HEADERS else n, v)
                for n, v in response.headers
            ]
            response.headers = remapped
        response.headers.append(("x-amzn-RequestId", request.request_id))
        return response
