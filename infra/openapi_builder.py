"""The API's one OpenAPI 3.1 document (docs/api.md "Description of the API"), assembled from the apps.

Every body, parameter and success answer is what the routes declare to FastAPI (the models of
``filegate.models``: ``response_model``, request bodies, multipart forms, ``responses=``), so
``build_document`` takes each HTTP function's ``app.openapi()`` as it is and adds only what the gateway and
the route table know: paths and scopes (filegate.routes), the security schemes of the authorizer, the
RateLimit / Retry-After / Location headers, the gateway's own answers (template.yaml's GatewayResponses, read by
the caller) and the one error body, with the usual errors (400 … 429) listed per operation and the codes each
can send.

Build time only (infra/build_openapi.py, ``make openapi``). The result is written to ``openapi.json``
(repository root) and beside ``filegate.api_document``, which is what ``GET /v1/openapi.json`` serves; a test
fails when either is stale.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from filegate import errors
from filegate.models.base import CODES_KEY
from filegate.routes import PUBLIC, ROUTES, Route

if TYPE_CHECKING:
    from fastapi import FastAPI

API_TITLE = "FileGate API"
API_VERSION = "v1"
JSON = "application/json"
SCHEMAS = "#/components/schemas/"


def render(document: Mapping[str, Any]) -> str:
    """The one serialisation of the document: stable, diff-friendly, newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ what only the gateway knows


@dataclass(frozen=True)
class GatewayAnswer:
    """A response API Gateway sends itself (template.yaml's GatewayResponses), before any function runs."""

    status: int
    code: str
    when: str  # e.g. "THROTTLED"


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error, from the gateway or a function (docs/api.md §4).",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable; see the enum per status."},
                "message": {"type": "string", "description": "For humans; names the field when one is wrong."},
                "request_id": {"type": "string", "description": "API Gateway's request id, also X-Request-Id."},
            },
        }
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "API Gateway's request id.", "schema": {"type": "string"}},
    "RateLimit": {
        "description": 'IETF draft: `"minute";r=<remaining>;t=<seconds to reset>`.',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {"description": 'IETF draft: `"minute";q=<limit>;w=60`.', "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}},
    "Location": {"description": "Where the result (or the job) is.", "schema": {"type": "string"}},
    "WWW-Authenticate": {
        "description": 'Bearer realm="filegate" (a function\'s copy is renamed by API Gateway; rely on the body).',
        "schema": {"type": "string"},
    },
    "Allow": {"description": "The methods this path takes.", "schema": {"type": "string"}},
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "fg_live_… or fg_test_… (39 characters after the prefix)",
        "description": "`Authorization: Bearer <key>` (preferred).",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "The key as user name and an empty password (`curl -u fg_live_…:`).",
    },
}
KEYED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"basicAuth": []}]

# The usual errors: what each says, and the headers it carries beyond X-Request-Id.
USUAL_ERRORS: dict[int, str] = {
    400: "A malformed request; the message names the field.",
    401: "No valid key (the same answer for every cause).",
    403: "The key or account may not call this route.",
    404: "No such resource (also another account's).",
    405: "The path does not take this method; Allow lists those it takes.",
    413: "The body is over a limit; the message says how to send it instead.",
    415: "The body's (or the file's) media type is not one this route takes.",
    422: "A parameter, field or option is invalid or unknown; the message names it.",
    429: "Over a limit (per minute, per month, or the stage's throttle).",
    500: "A bug, logged with the request id.",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _required(name: str) -> dict[str, Any]:
    return {**HEADERS[name], "required": True}


def _error_headers(status: int, keyed: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": _required("X-Request-Id")}
    if status == 401:
        return {**headers, "WWW-Authenticate": _ref("headers", "WWW-Authenticate")}
    if status == 429:
        headers["Retry-After"] = _required("Retry-After")
    if status == 405:
        headers["Allow"] = _required("Allow")
    if keyed and status != 500:  # metered before the function answers (filegate.web.authorized)
        headers.update({name: _ref("headers", name) for name in ("RateLimit", "RateLimit-Policy")})
    return headers


def _error_response(description: str, codes: Iterable[str], headers: Mapping[str, Any]) -> dict[str, Any]:
    narrowed = {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {"code": {"enum": sorted(set(codes))}}}},
    }
    schema = {"allOf": [_ref("schemas", "Error"), narrowed]}
    return {"description": description, "headers": dict(headers), "content": {JSON: {"schema": schema}}}


def _all_codes() -> list[str]:
    """Every error code of the API, from the domain errors themselves (filegate.errors)."""
    found: set[str] = set()
    pending: list[type[errors.ApiError]] = [errors.ApiError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.add(cls.code)
    return sorted(found)


def _usual_codes(route: Route, operation: Mapping[str, Any], gateway: Mapping[int, set[str]]) -> dict[int, set[str]]:
    """The usual errors an operation can send, by status: what the route table, the shared web layer
    (filegate.web: unknown query parameters, 405, body parsing) and the gateway make every such route send."""
    keyed = route.scope != PUBLIC
    # Whatever the route reads, the gateway weighs (413) and types (415) any body of these methods.
    takes_body = "requestBody" in operation or route.method in ("POST", "PATCH", "PUT")
    codes: dict[int, set[str]] = {
        405: {errors.MethodNotAllowed.code},
        422: {errors.InvalidParameter.code},  # an unknown query parameter, on every route
        429: {errors.RateLimited.code, *gateway.get(429, set())},
        500: {errors.InternalError.code},
    }
    if operation.get("parameters") or takes_body:
        codes[400] = {errors.InvalidRequest.code}
    if keyed:
        codes[401] = {errors.InvalidApiKey.code, *gateway.get(401, set())}
        codes[403] = {errors.InsufficientScope.code, errors.AccountSuspended.code, *gateway.get(403, set())}
        if route.feature:
            codes[403].add(errors.TierRequired.code)
    if "{" in route.path:
        codes[404] = {errors.NotFound.code}
    if takes_body:
        codes[413] = {errors.FileTooLarge.code, *gateway.get(413, set())}
        codes[415] = set(gateway.get(415, set()))  # a body of a media type the gateway does not pass on
    return codes


def _errors(
    route: Route, operation: dict[str, Any], gateway: Mapping[int, set[str]], every_code: list[str]
) -> dict[str, Any]:
    """The operation's error responses: the usual ones with their codes, plus those its route declares
    (``filegate.models.base.may_send``), and a default for the rest of docs/api.md §4."""
    codes = _usual_codes(route, operation, gateway)
    descriptions = dict(USUAL_ERRORS)
    for status, declared in list(operation["responses"].items()):
        if CODES_KEY in declared:
            del operation["responses"][status]
            codes.setdefault(int(status), set()).update(declared[CODES_KEY])
            descriptions.setdefault(int(status), declared.get("description", "An error."))
    keyed = route.scope != PUBLIC
    out = {
        str(status): _error_response(descriptions[status], found, _error_headers(status, keyed))
        for status, found in sorted(codes.items())
        if found
    }
    out["default"] = _error_response(
        "Any other error of docs/api.md §4.", every_code, {"X-Request-Id": _required("X-Request-Id")}
    )
    return out


def _share_error_responses(paths: Mapping[str, Any]) -> dict[str, Any]:
    """Identical error responses become one ``components/responses`` entry each (Error401, Error404, …)."""
    shared: dict[str, Any] = {}
    names: dict[str, str] = {}
    for operations in paths.values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status[0] not in "45" and status != "default":
                    continue
                key = json.dumps(response, sort_keys=True)
                if key not in names:
                    base = "ErrorDefault" if status == "default" else f"Error{status}"
                    taken = sum(1 for n in shared if n == base or n.startswith(base + "_"))
                    names[key] = base if not taken else f"{base}_{taken + 1}"
                    shared[names[key]] = response
                operation["responses"][status] = _ref("responses", names[key])
    return dict(sorted(shared.items()))


# ------------------------------------------------------------------ tidying FastAPI's output


def _hoist_body_schema(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A body declared inline (``openapi_extra`` from a model: the handler parses it itself) becomes a
    component, like FastAPI's own, with the models it nests."""
    for media in (operation.get("requestBody") or {}).get("content", {}).values():
        schema = media.get("schema") or {}
        for name, nested in schema.pop("$defs", {}).items():
            _add_schema(schemas, name, nested)
        if "title" in schema and schema.get("type") == "object":
            _add_schema(schemas, schema["title"], schema)
            media["schema"] = {"$ref": SCHEMAS + schema["title"]}


def _add_schema(schemas: dict[str, Any], name: str, schema: Mapping[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are named {name}")
    schemas[name] = schema


def _drop_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``X | None`` → ``X`` where absence already says "none" (optional parameters)."""
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        rest = [v for v in variants if v != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(variants):
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
    return dict(schema)


def _table_route(method: str, path: str) -> Route:
    """The route table's entry for a FastAPI route; path parameter names may differ, their places may not."""
    segments = path.strip("/").split("/")
    for route in ROUTES:
        theirs = route.path.strip("/").split("/")
        if route.method != method or len(theirs) != len(segments):
            continue
        if all(a == b or (a.startswith("{") and b.startswith("{")) for a, b in zip(theirs, segments, strict=True)):
            return route
    raise ValueError(f"{method} {path} is served by an app but is not in filegate.routes.ROUTES")


def _tidy_parameters(operation: dict[str, Any], app_path: str, table_path: str) -> None:
    """The table's names for path parameters; no pydantic titles; optional ones without their null."""
    renames = {
        a[1:-1]: b[1:-1]
        for a, b in zip(app_path.strip("/").split("/"), table_path.strip("/").split("/"), strict=True)
        if a.startswith("{")
    }
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            parameter["name"] = renames.get(parameter["name"], parameter["name"])
        if not parameter.get("required"):
            parameter["schema"] = _drop_null(parameter.get("schema", {}))
        parameter.get("schema", {}).pop("title", None)


def _successes(operation: dict[str, Any], route: Route) -> None:
    """FastAPI's success answers with the gateway's headers; its automatic 422 goes (our apps answer 400 and
    422 with the error body), and so does the empty JSON it guesses for a route returning a plain Response."""
    responses = operation["responses"]
    for status in [s for s, r in responses.items() if _is_fastapi_validation(r)]:
        del responses[status]
    for status, response in responses.items():
        if status[0] not in "23" or CODES_KEY in response:
            continue
        if response.get("content", {}).get(JSON, {}).get("schema") == {}:  # a plain Response: says nothing
            del response["content"][JSON]
            if not response["content"]:
                del response["content"]
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = _required("X-Request-Id")
        if route.scope != PUBLIC:
            headers["RateLimit"] = _required("RateLimit")
            headers["RateLimit-Policy"] = _required("RateLimit-Policy")
        if status in ("202", "302", "303"):  # docs/api.md §4: every 202 and redirect carries Location
            headers["Location"] = _required("Location")


def _is_fastapi_validation(response: Mapping[str, Any]) -> bool:
    schema = (response.get("content") or {}).get(JSON, {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def _link_created_resources(paths: Mapping[str, dict[str, Any]], schemas: Mapping[str, Any]) -> None:
    """OpenAPI links from a create (``POST /v1/files`` → 201) to the routes on what it created
    (``/v1/files/{id}…``), so a client or a stateful tester can follow an id from one answer to the next."""
    for path, operations in paths.items():
        create = operations.get("post")
        if create is None or "{" in path:
            continue
        targets = [op for sub, ops in paths.items() if sub.startswith(path + "/{id}") for op in ops.values()]
        for status, response in create["responses"].items():
            if status not in ("201", "202") or not targets:
                continue
            ref = (response.get("content") or {}).get(JSON, {}).get("schema", {}).get("$ref", "")
            fields = _properties(schemas, ref.removeprefix(SCHEMAS))
            id_field = next((f for f in ("id", "key_id") if f in fields), None)
            if id_field is not None:
                response["links"] = {
                    op["operationId"]: {
                        "operationId": op["operationId"],
                        "parameters": {"path.id": f"$response.body#/{id_field}"},
                    }
                    for op in targets
                }


def _properties(schemas: Mapping[str, Any], name: str) -> set[str]:
    """The property names of a component schema, through ``allOf``."""
    schema = schemas.get(name) or {}
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found |= _properties(schemas, str(part.get("$ref", "")).removeprefix(SCHEMAS)) | set(part.get("properties", {}))
    return found


# ------------------------------------------------------------------ the document


def _operation(
    route: Route, generated: dict[str, Any], app_path: str, gateway: Mapping[int, set[str]], every_code: list[str]
) -> dict[str, Any]:
    """One operation: FastAPI's, with the table's names, the gateway's headers and errors, and who may call."""
    operation = copy.deepcopy(generated)
    operation["tags"] = [route.function]
    _tidy_parameters(operation, app_path, route.path)
    _successes(operation, route)
    operation["responses"].update(_errors(route, operation, gateway, every_code))
    operation["responses"] = dict(sorted(operation["responses"].items()))
    operation["security"] = [] if route.scope == PUBLIC else copy.deepcopy(KEYED)
    operation["x-filegate-scope"] = route.scope
    who = "No key." if route.scope == PUBLIC else f"Scope: `{route.scope}`."
    if route.feature:
        operation["x-filegate-tier-feature"] = route.feature
        who += f" Tier feature: `{route.feature}` (403 tier_required on free)."
    operation["description"] = f"{operation.get('description', '').strip()}\n\n{who}".strip()
    return operation


def build_document(
    apps: Mapping[str, FastAPI],
    *,
    gateway: Iterable[GatewayAnswer] = (),
    servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole API's document from each function's app (``{"keys": app, ...}``) and the route table."""
    from fastapi.routing import APIRoute

    gateway_codes: dict[int, set[str]] = {}
    for answer in gateway:
        gateway_codes.setdefault(answer.status, set()).add(answer.code)
    every_code = _all_codes()
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for function, app in sorted(apps.items()):
        generated = app.openapi()
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            if name not in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, not ours
                _add_schema(schemas, name, schema)
        for app_route in app.routes:
            if not isinstance(app_route, APIRoute) or not app_route.include_in_schema:
                continue
            for method in sorted((app_route.methods or set()) - {"HEAD"}):
                route = _table_route(method, app_route.path_format)
                if route.function != function:
                    raise ValueError(f"{method} {route.path} is served by {function}, the table says {route.function}")
                declared = generated["paths"][app_route.path_format][method.lower()]
                operation = _operation(route, declared, app_route.path_format, gateway_codes, every_code)
                operation["operationId"] = app_route.name
                _hoist_body_schema(operation, schemas)
                operations[(route.method, route.path)] = operation
    missing = [f"{r.method} {r.path}" for r in ROUTES if (r.method, r.path) not in operations and r.function in apps]
    if missing:
        raise ValueError(f"in the route table but served by no app: {', '.join(missing)}")
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:  # the table's order
        if (route.method, route.path) in operations:
            paths.setdefault(route.path, {})[route.method.lower()] = operations[(route.method, route.path)]
    _link_created_resources(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": 'File conversion over HTTPS. Errors are `{"error": {"code", "message", "request_id"}}`.',
        },
        "servers": servers or [],
        "security": copy.deepcopy(KEYED),
        "tags": [{"name": name} for name in sorted(apps)],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": _share_error_responses(paths),
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
