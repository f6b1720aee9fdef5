"""What every HTTP function shares: the FastAPI app, its error bodies, the caller and metering.

Functions never read a client header for identity: the caller is the authorizer's context, which API
Gateway puts in the event (Mangum exposes it as ``request.scope["aws.event"]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from filegate import errors, routes
from filegate.activity import record as activity
from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.keys import freshness
from filegate.keys.access import check_route
from filegate.keys.authorizer import Unauthorized
from filegate.keys.stamps import Stamps
from filegate.metering import limits
from filegate.observability import logger, request_refused
from filegate.suggest import check_names, did_you_mean, unknown_parameter
from filegate.tiers import tier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

EXTRA_HEADERS = "filegate_headers"  # request.state key: headers every response of this request carries


def request_id(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    return str((event.get("requestContext") or {}).get("requestId", ""))


def source_ip(request: Request) -> str:
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    return str((context.get("identity") or {}).get("sourceIp", ""))


def resource_path(request: Request) -> str:
    """API Gateway's resource path (``/v1/files/{id}``), or the request's own path outside API Gateway."""
    event = request.scope.get("aws.event") or {}
    context = event.get("requestContext") or {}
    return str(context.get("resourcePath") or event.get("resource") or request.url.path)


def _add_headers(request: Request, headers: dict[str, str]) -> None:
    current: dict[str, str] = getattr(request.state, EXTRA_HEADERS, {})
    setattr(request.state, EXTRA_HEADERS, {**current, **headers})


def error_response(request: Request, error: errors.ApiError) -> Response:
    rid = request_id(request)
    return Response(
        errors.error_bytes(error.code, error.message, rid),
        status_code=error.status,
        headers={**error.headers, "X-Request-Id": rid},
        media_type="application/json",
    )


class _ResponseHeaders:
    """Pure ASGI middleware: X-Request-Id and the request's metering headers on every response, and the
    request's activity line (filegate.activity.record) once its answer is sent."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        event = scope.get("aws.event") or {}
        identity = (event.get("requestContext") or {}).get("identity") or {}
        note = activity.begin(utcnow(), str(identity.get("sourceIp", "")))
        status: int | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                rid = str((event.get("requestContext") or {}).get("requestId", ""))
                extra: dict[str, str] = (scope.get("state") or {}).get(EXTRA_HEADERS, {})
                present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                wanted = {**extra, "x-request-id": rid} if rid else extra
                added = [
                    (k.lower().encode(), v.encode()) for k, v in wanted.items() if k.lower().encode() not in present
                ]
                message["headers"] = list(message.get("headers", [])) + added
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            activity.finish(note, status)


def create_app(title: str) -> FastAPI:
    """A FastAPI app whose every error, ours or the framework's, is docs/api.md's error body."""
    # No redirect_slashes: its bodiless 307 (e.g. for /v1/files/%2F) builds Location from the Host header;
    # an unknown path is the 404 error body like any other.
    app = FastAPI(
        title=title,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        dependencies=[Depends(_no_unknown_query_parameters)],
    )

    @app.exception_handler(errors.ApiError)
    async def _api_error(request: Request, exc: errors.ApiError) -> Response:
        request_refused(exc.code)
        activity.note_error(exc.code)
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, errors.InvalidRequest(describe_validation_error(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(request, errors.NotFound("No such route."))
        if exc.status_code == 405:
            return error_response(request, method_not_allowed(request.method, resource_path(request)))
        return error_response(request, errors.InvalidRequest(str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", extra={"request_id": request_id(request)})
        return error_response(request, errors.InternalError())

    app.add_middleware(_ResponseHeaders)
    return app


def method_not_allowed(method: str, path: str) -> errors.ApiError:
    """405 with `Allow` listing the methods the route table gives this path (docs/api.md §4)."""
    allowed = routes.methods_of(path)
    if not allowed:
        return errors.NotFound("No such route.")
    return errors.MethodNotAllowed(
        f"{path} does not take {method[:10]}; it takes {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)}
    )


def _no_unknown_query_parameters(request: Request) -> None:
    """A query parameter the matched route does not declare is 422 invalid_parameter naming it: the route's
    own signature (and its dependencies') is the one list of what it takes."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    check_names(request.query_params.keys(), _declared_query_parameters(route), kind="query parameter")


def _declared_query_parameters(route: APIRoute) -> set[str]:
    """The query parameters a route and its dependencies declare, by the names clients send."""
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(p.alias for p in dependant.query_params)
        pending.extend(dependant.dependencies)
    return names


def describe_validation_error(exc: RequestValidationError | ValidationError) -> str:
    """'field: problem.' for the first problem, naming the field as the client sent it."""
    problems = exc.errors()
    if not problems:
        return "The request is malformed."
    first = problems[0]
    location = [p for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return "Malformed JSON body."
    if not location:
        return (
            "The request body must be a JSON object."
            if kind in ("model_attributes_type", "dict_type")
            else str(first.get("msg", "The request is malformed."))
        )
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in location).lstrip(".")  # items[3].target
    message = str(first.get("msg", "invalid")).rstrip(".")
    return f"{field}: {message[0].lower() + message[1:] if message else 'invalid'}."


# ------------------------------------------------------------------ the caller


def _refused_unless_fresh(context: AuthContext, ip: str, now: datetime) -> freshness.Outcome:
    """The freshness check without counting: for a context marked ``ip_denied``, whose requests come from
    outside the key's allowlist and must not spend the account's rate limit. Unless a change since (say, a
    widened allowlist) lets this address in now, the same 401 as the authorizer's.

    What that costs: each such request is one function invocation and one consistent GetItem (1 read unit)
    for us, and nothing on the account's limits; the authorizer runs once per (key, address) per cache TTL.
    An attacker needs the raw key itself to get this far (an unknown or malformed key is refused at the
    edge) and gains nothing but our cost, which the stage's throttling bounds. Revoking the key ends even
    that once API Gateway's cached answer expires (the authorizer then refuses it at the edge)."""
    stamps = Stamps.from_item(limits.peek_rate_stamps(context.account_id, now))
    outcome = freshness.current(context, stamps, ip, now)
    if outcome.context.ip_denied:
        raise Unauthorized("source IP not allowed")
    return outcome


def authorized(request: Request) -> AuthContext:
    """The authenticated, authorized and metered caller: FastAPI dependency for every route that takes a key.

    1. the authorizer's context (maybe cached by API Gateway for up to its TTL): none → 401;
    2. its key's rotation grace or expiry has ended → 401;
    3. one metering write, which also returns the account's change stamps (filegate.keys.stamps) and tells
       whether this is the key's first request of the minute (then its last use is recorded); a stamp newer
       than the context → the key and account as they are now (filegate.keys.freshness); a key that no
       longer authenticates → the same 401. A context from outside the key's allowlist is checked for
       freshness without the write, and refused unless the allowlist now lets it in;
    4. the route table: scope, account status, tier feature → 403 (filegate.keys.access);
    5. over the rate limit → 429. RateLimit headers go on every response from here on.
    """
    event = request.scope.get("aws.event") or {}
    request_context = event.get("requestContext") or {}
    context = AuthContext.from_authorizer_context(request_context.get("authorizer"))
    now = utcnow()
    if context is None:
        raise errors.InvalidApiKey()  # a route wired without the authorizer: refuse, never serve anonymously
    activity.note_key(context.key_id)  # recognised: whatever the answer, it counts for this key
    if not context.is_valid_at(now):
        # The key's rotation grace or expiry ended while API Gateway still caches its answer.
        raise errors.InvalidApiKey()
    ip = source_ip(request)
    try:
        if context.ip_denied:
            context = _refused_unless_fresh(context, ip, now).context
        check = limits.hit_rate_limit(context.account_id, tier(context.tier), now, key_id=context.key_id)
        outcome = freshness.current(context, Stamps.from_item(check.stamps), ip, now)
    except Unauthorized as exc:
        logger.info("key refused after a change", extra={"key_id": context.key_id, "reason": str(exc)})
        raise errors.InvalidApiKey() from None
    fresh = outcome.context
    if outcome.reread:
        logger.info("caller re-read after a change", extra={"key_id": context.key_id})
    if not fresh.is_valid_at(now):
        raise errors.InvalidApiKey()
    if fresh.tier != context.tier:
        # Counted under the tier the cached context named; the account's tier now is what counts.
        check = limits.rate_under_new_tier(check, fresh.account_id, tier(context.tier), tier(fresh.tier), now)
    _add_headers(request, check.state.headers())
    check_route(fresh, request.method, resource_path(request))
    if not check.admitted:
        raise check.refusal()
    if check.first_use:
        limits.record_last_use(fresh.key_id, now)
    logger.append_keys(account_id=fresh.account_id, key_id=fresh.key_id, key_prefix=fresh.key_prefix)
    return fresh


# No request body of the API nests deeper than a few levels (a bulk item's options: 4).
MAX_JSON_DEPTH = 32
TOO_DEEP = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iterative: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or 400 invalid_request."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidRequest("Malformed JSON body.") from exc
    except RecursionError as exc:  # the parser recurses per level; the interpreter's limit ends it
        raise errors.InvalidRequest(TOO_DEEP) from exc
    if _depth(value) > MAX_JSON_DEPTH:  # whatever reads it next (validation, hashing) may recurse too
        raise errors.InvalidRequest(TOO_DEEP)
    if not isinstance(value, dict):
        raise errors.InvalidRequest("The request body must be a JSON object.")
    return value


BodyModel = TypeVar("BodyModel", bound=BaseModel)


async def parse_body(request: Request, model: type[BodyModel]) -> BodyModel:
    """The JSON body validated against ``model``; 400 invalid_request naming the first bad field."""
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as exc:
        unknown = _unknown_field(model, exc)
        invalid = describe_validation_error(exc).removesuffix(".") + _choice_hint(exc) + "."
        raise (unknown or errors.InvalidRequest(invalid)) from exc


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that the JSON at `path` (field names and list indexes) is validated against."""
    current: type[BaseModel] = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        nested = [a for a in (field.annotation, *getattr(field.annotation, "__args__", ())) if _is_model(a)]
        if not nested:
            return None
        current = nested[0]
    return current


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _choice_hint(exc: ValidationError) -> str:
    """For a value outside a declared set (a Literal field such as `mode`), the closest valid one."""
    first = next(iter(exc.errors()), None)
    if first is None or first.get("type") != "literal_error" or not isinstance(first.get("input"), str):
        return ""
    # pydantic states the choices as "'live' or 'test'": the declared values, quoted.
    choices = re.findall(r"'([^']*)'", str((first.get("ctx") or {}).get("expected", "")))
    return did_you_mean(first["input"], choices)


def _unknown_field(model: type[BaseModel], exc: ValidationError) -> errors.ApiError | None:
    """422 invalid_parameter for the first member the body model does not declare ("did you mean")."""
    extra = next((e for e in exc.errors() if e.get("type") == "extra_forbidden"), None)
    if extra is None:
        return None
    *parents, name = extra["loc"]
    owner = _model_at(model, tuple(parents))
    prefix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parents).lstrip(".")
    accepted = list(owner.model_fields) if owner is not None else []
    return unknown_parameter(str(name), accepted, kind="field", prefix=f"{prefix}." if prefix else "")
