"""The API's one OpenAPI 3.1 document (docs/api.md "Description of the API"), built from the code.

``build_document`` merges each HTTP function's ``app.openapi()`` and lays over it what FastAPI cannot see:
the route table (paths, scopes, tier features), the security schemes of the authorizer (Bearer, Basic), the
error body and headers (defined once, below), the gateway's own answers (read from template.yaml by the
caller), request bodies that handlers parse themselves (``parse_body(request, Model)``, the conversion job,
the multipart forms) and the answers a plain ``Response`` hides (file bytes, 302/303 redirects, 202).
Whatever an app declares itself (a ``response_model``, ``responses=``, a body parameter) wins over these
defaults, so handlers can grow richer declarations without an edit here.

Build time only (infra/build_openapi.py, ``make openapi``): it reads the handlers' source, so it is not in
the runtime layer. The result is written to ``openapi.json`` (repository root) and beside
``filegate.api_document``, which is what ``GET /v1/openapi.json`` serves; a test fails when either is stale.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from filegate.routes import Route

API_TITLE = "FileGate API"
API_VERSION = "v1"
JSON = "application/json"


def render(document: Mapping[str, Any]) -> str:
    """The one serialisation of the document: stable, diff-friendly, newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ defined once: errors, headers, security


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
    "Content-Disposition": {
        "description": 'attachment; filename="<stem>.<target>"',
        "schema": {"type": "string"},
    },
    "X-Conversion-Id": {"description": "The conversion's id (conv_…).", "schema": {"type": "string"}},
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


def _header(name: str, *, required: bool) -> dict[str, Any]:
    return {"$ref": f"#/components/headers/{name}"} if not required else {**HEADERS[name], "required": True}


def _error_codes() -> dict[int, list[str]]:
    """Status → codes, from the domain errors themselves (filegate.errors)."""
    from filegate import errors

    by_status: dict[int, list[str]] = {}
    pending: list[type[errors.ApiError]] = [errors.ApiError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        codes = by_status.setdefault(cls.status, [])
        if cls.code not in codes:
            codes.append(cls.code)
    return {status: sorted(codes) for status, codes in sorted(by_status.items())}


def _error_response(description: str, codes: Iterable[str], headers: Mapping[str, Any]) -> dict[str, Any]:
    narrowed = {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {"code": {"enum": sorted(set(codes))}}}},
    }
    schema = {"allOf": [{"$ref": "#/components/schemas/Error"}, narrowed]}
    return {"description": description, "headers": dict(headers), "content": {JSON: {"schema": schema}}}


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
                operation["responses"][status] = {"$ref": f"#/components/responses/{names[key]}"}
    return dict(sorted(shared.items()))


# ------------------------------------------------------------------ request bodies FastAPI cannot see


def _parsed_body_model(endpoint: Any) -> Any:
    """The pydantic model a handler validates its JSON body with: ``parse_body(request, Model)``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        model = node.args[1]
        if name == "parse_body" and isinstance(model, ast.Name):
            return endpoint.__globals__.get(model.id)
    return None


def _conversion_options_schema(*, multipart: bool) -> dict[str, Any]:
    """Every conversion option of the one option table (filegate.formats.options holds the names, types and
    limits: images', media's and documents'), with ImageOptions' defaults; GET /v1/formats says which apply to
    which pair."""
    from pydantic import TypeAdapter

    from filegate.formats import options

    defaults = TypeAdapter(options.ImageOptions).json_schema().get("properties", {})
    properties: dict[str, Any] = {}
    for name, option in options.OPTIONS.items():
        field = _option_schema(option, options.MAX_TEXT_OPTION)
        if name in options.IMAGE_OPTIONS and defaults.get(name, {}).get("default") is not None:
            field["default"] = defaults[name]["default"]
        properties[name] = field
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if not multipart:
        result["additionalProperties"] = False
    return result


def _option_schema(option: Any, max_text: int) -> dict[str, Any]:
    """One option's JSON Schema, from its row of the option table (the PDF tools': docs/pdf-tools.md)."""
    from filegate.formats import options

    pdf_tools: dict[str, dict[str, Any]] = {
        "rotation": {"type": "integer", "enum": list(options.ROTATIONS), "description": "Degrees clockwise."},
        "pages": {
            "type": ["string", "integer"],
            "minLength": 1,
            "maxLength": options.MAX_PAGES_SPEC,
            "description": 'Pages in order: "3,1-2".',
        },
        "languages": {"type": "string", "description": 'Tesseract languages: "eng+deu" (with ocr).'},
        "page_size": {"type": "string", "enum": list(options.PAGE_SIZES), "description": "A merge's images."},
        "secret": {
            "type": "string",
            "minLength": 1,
            "maxLength": options.MAX_SECRET,
            "description": "A password: never logged, never stored.",
        },
    }
    if option.type in pdf_tools:
        return pdf_tools[option.type]
    if option.type == "boolean":
        return {"type": "boolean"}
    if option.type == "fit":
        return {"type": "string", "enum": ["contain", "cover"]}
    if option.type == "text":
        if option.choices:
            return {"type": "string", "enum": list(option.choices)}
        # A sheet's number or a single page may also come as a JSON integer.
        return {"type": ["string", "integer"], "minLength": 1, "maxLength": max_text}
    integer = option.type == "integer"
    low, high = (int(option.low), int(option.high)) if integer else (option.low, option.high)
    bound = {"exclusiveMinimum": low} if option.above_low else {"minimum": low}
    return {"type": "integer" if integer else "number", **bound, "maximum": high}


def _targets() -> list[str]:
    from filegate.formats import table as formats

    return sorted({t for source in formats.FORMATS for t in formats.targets_for(source)})


def _output_media_types() -> list[str]:
    from filegate.formats import table as formats

    names = {*formats.FORMATS, *_targets()}
    return sorted({formats.content_type(name) for name in names})


def _job_schema() -> dict[str, Any]:
    from filegate.conversions import create, merges

    return {
        "type": "object",
        "required": ["target"],
        "oneOf": [{"required": ["file_id"]}, {"required": ["url"]}, {"required": ["file_ids"]}],
        "additionalProperties": False,
        "properties": {
            "file_id": {"type": "string", "minLength": 1, "description": "A ready file (POST /v1/files)."},
            "file_ids": {
                "type": "array",
                "minItems": merges.MIN_INPUTS,
                "maxItems": merges.MAX_INPUTS,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "description": "In place of file_id: ready files merged into one PDF, in order (target pdf).",
            },
            "url": {
                "type": "string",
                "minLength": 1,
                "maxLength": 2048,
                "format": "uri",
                "description": "In place of file_id: a URL imported first (see POST /v1/files/import).",
            },
            "headers": _import_headers_schema(),
            "target": {"type": "string", "enum": _targets(), "description": "See GET /v1/formats."},
            "options": {"$ref": "#/components/schemas/ConversionOptions"},
            "webhook_url": {"type": "string", "maxLength": create.MAX_WEBHOOK_URL_LENGTH, "format": "uri"},
        },
    }


def _import_headers_schema() -> dict[str, Any]:
    from filegate.egress.fetch import MAX_HEADER_VALUE_CHARS, MAX_HEADERS

    return {
        "type": "object",
        "maxProperties": MAX_HEADERS,
        "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE_CHARS},
        "description": "Headers for a private link (e.g. Authorization), sent to the URL's own origin only; "
        "never logged, never stored past the import.",
    }


def _bulk_schema() -> dict[str, Any]:
    from filegate.conversions import create

    return {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": create.MAX_BULK_ITEMS,
                "items": {"$ref": "#/components/schemas/ConversionRequest"},
            }
        },
    }


def _name_scopes(schema: dict[str, Any]) -> None:
    """A body's ``scopes`` list takes the route table's scopes, the only ones a key can hold."""
    from filegate.routes import SCOPES

    field = schema.get("properties", {}).get("scopes")
    if not field:
        return
    for variant in field.get("anyOf", [field]):
        if variant.get("type") == "array":
            variant["items"] = {"type": "string", "enum": list(SCOPES)}


def _multipart(target: bool) -> dict[str, Any]:
    from filegate.formats import options

    properties: dict[str, Any] = {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}
    required = ["file"]
    if target:
        properties["file"]["description"] = "Several file parts with target pdf are merged into one PDF, in order."
        properties["target"] = {"type": "string", "enum": _targets(), "description": "See GET /v1/formats."}
        required.append("target")
        properties.update(_conversion_options_schema(multipart=True)["properties"])
    else:
        properties["quality"] = {"type": "integer", "minimum": 1, "maximum": 100}
        for name in options.PDF_COMPRESS_OPTIONS:  # a PDF's own (docs/pdf-tools.md)
            properties.setdefault(name, _option_schema(options.OPTIONS[name], options.MAX_TEXT_OPTION))
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _json_body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


# ------------------------------------------------------------------ responses a plain Response hides


def _sync_conversion_responses() -> dict[str, Any]:
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    return {
        "200": {
            "description": "The converted bytes.",
            "headers": {
                "Content-Disposition": _header("Content-Disposition", required=True),
                "X-Conversion-Id": _header("X-Conversion-Id", required=True),
            },
            "content": {media_type: binary for media_type in _output_media_types()},
        },
        "202": {
            "description": "Too much work for the sync budget: it goes on as a job (see GET /v1/conversions/{id}).",
            "headers": {"Location": _header("Location", required=True)},
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Conversion"}}},
        },
        "303": {
            "description": "The output is over the sync limit: it was stored; Location is a short-lived download.",
            "headers": {
                "Location": _header("Location", required=True),
                "X-Conversion-Id": _header("X-Conversion-Id", required=True),
            },
            "content": {JSON: {"schema": {"type": "object", "required": ["id", "status", "url"]}}},
        },
    }


def _queued(description: str, schema: str) -> dict[str, Any]:
    """A 202 of work that goes on (docs/api.md §4: every 202 carries Location)."""
    return {
        "202": {
            "description": description,
            "headers": {"Location": _header("Location", required=True)},
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def _overrides() -> dict[tuple[str, str], dict[str, Any]]:
    """What a handler does not declare to FastAPI, by route: request bodies and hidden answers."""
    redirect = {
        "302": {
            "description": "A presigned GET (5 minutes).",
            "headers": {"Location": _header("Location", required=True)},
        }
    }
    document = {
        "200": {
            "description": "This document.",
            "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}},
        }
    }
    return {
        ("POST", "/v1/convert"): {"requestBody": _multipart(target=True), "responses": _sync_conversion_responses()},
        ("POST", "/v1/compress"): {"requestBody": _multipart(target=False), "responses": _sync_conversion_responses()},
        ("POST", "/v1/conversions"): {
            "requestBody": _json_body("ConversionRequest"),
            "responses": _queued("The conversion, queued (GET /v1/conversions/{id}, its Location).", "Conversion"),
        },
        ("POST", "/v1/conversions/bulk"): {
            "requestBody": _json_body("BulkConversionRequest"),
            "responses": _queued(
                "Every conversion, queued, in order (Location: the list they are in).", "BulkConversions"
            ),
        },
        ("GET", "/v1/files/{id}/content"): {"responses": redirect},
        ("POST", "/v1/files/import"): {
            "responses": {
                "202": {
                    "description": "The file, importing; a worker fetches it (GET /v1/files/{id} for the outcome).",
                    "headers": {"Location": _header("Location", required=True)},
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/File"}}},
                }
            }
        },
        ("GET", "/v1/openapi.json"): {"responses": document},
    }


def _object(required: Iterable[str] = (), **properties: Any) -> dict[str, Any]:
    """An object schema; fields beyond ``properties`` are allowed (responses may grow, clients ignore)."""
    return {"type": "object", "required": list(required), "properties": properties}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
MAYBE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
MAYBE_STR: dict[str, Any] = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return _object(["data", "next_cursor"], data={"type": "array", "items": _ref(item)}, next_cursor=MAYBE_STR)


def _response_schemas() -> dict[str, Any]:
    """The bodies of docs/api.md §5, for handlers that return plain dicts (a response_model in the app wins)."""
    from filegate.routes import SCOPES
    from filegate.tiers import TIERS

    scopes = {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}}
    ips = {"type": "array", "items": STR}
    raw_key = {"type": "string", "pattern": "^fg_(live|test)_[a-z2-7]{39}$"}
    key_fields = ["id", "name", "key_prefix", "scopes", "allowed_ips", "created_at", "last_used_at"]
    return {
        "Formats": _object(
            ["formats"],
            formats={
                "type": "object",
                "additionalProperties": _object(
                    ["kind", "to", "options"],
                    kind={"type": "string", "enum": ["image", "document", "audio", "video"]},
                    to={"type": "array", "items": STR},
                    options={"type": "array", "items": STR},
                ),
            },
        ),
        "FreeKey": _object(
            ["api_key", "key_id", "plan", "monthly_limit", "message"],
            api_key=raw_key, key_id=STR, plan={"type": "string", "enum": ["free"]}, monthly_limit=INT, message=STR,
        ),
        "Key": _object(
            [*key_fields, "expires_at", "revoked_at"],
            id=STR, name=STR, key_prefix=STR, scopes=scopes, allowed_ips=ips, created_at=TIME,
            last_used_at=MAYBE_TIME, expires_at=MAYBE_TIME, revoked_at=MAYBE_TIME,
        ),
        "KeyList": _page("Key"),
        "NewKey": _object(
            ["api_key", "key_id", "name", "key_prefix", "scopes", "allowed_ips", "expires_at", "created_at"],
            api_key=raw_key, key_id=STR, name=STR, key_prefix=STR, scopes=scopes, allowed_ips=ips,
            expires_at=MAYBE_TIME, created_at=TIME,
        ),
        "Entitlements": _object(
            ["account_id", "tier", "key", "limits", "usage"],
            account_id=STR,
            tier={"type": "string", "enum": sorted(TIERS)},
            key=_object(["id", "key_prefix", "scopes"], id=STR, key_prefix=STR, scopes=scopes),
            limits=_object(
                ["requests_per_minute", "conversions_per_month", "max_file_bytes", "sync_max_bytes"],
                requests_per_minute=INT, conversions_per_month=INT, max_file_bytes=INT, sync_max_bytes=INT,
            ),
            usage=_object(["period", "conversions", "remaining"], period=STR, conversions=INT, remaining=INT),
        ),
        "Usage": _object(
            ["from", "to", "months", "days"],
            **{"from": STR, "to": STR},
            months={"type": "array", "items": _object(["month", "conversions"], month=STR, conversions=INT)},
            days={"type": "array", "items": _object(["date", "conversions"], date=STR, conversions=INT)},
        ),
        "File": _object(
            ["id", "filename", "status", "created_at", "expires_at"],
            id=STR, filename=STR, size={"type": ["integer", "null"]}, format=MAYBE_STR,
            status={"type": "string", "enum": ["pending", "importing", "ready", "failed"]},
            origin={"type": "string", "enum": ["upload", "conversion", "import"]},
            content_type=MAYBE_STR, created_at=TIME, completed_at=MAYBE_TIME, expires_at=TIME,
            metadata={"type": ["object", "null"]},
            error={
                "anyOf": [
                    _object(["code", "message"], code={"type": "string", "enum": [
                        "import_refused", "import_failed", "file_too_large", "unsupported_media_type",
                    ]}, message=STR),
                    {"type": "null"},
                ]
            },
        ),
        "NewFile": {
            "allOf": [
                _ref("File"),
                _object(
                    ["upload"],
                    upload=_object(
                        ["url", "fields", "expires_at"],
                        url=STR, fields={"type": "object", "additionalProperties": STR}, expires_at=TIME,
                    ),
                ),
            ]
        },
        "FileList": _page("File"),
        "ConversionList": _page("Conversion"),
        "BulkConversions": _object(["data"], data={"type": "array", "items": _ref("Conversion")}),
        "WebhookSecret": _object(["secret"], secret={"type": "string", "pattern": "^whsec_"}, created_at=TIME),
        "Webhook": _object(
            ["id", "url", "events", "created_at"],
            id=STR, url=STR, events={"type": "array", "items": STR}, created_at=TIME,
        ),
        "WebhookList": _page("Webhook"),
        "Delivery": _object(["id", "webhook_id", "event", "status"], id=STR, webhook_id=STR, event=STR, status=STR),
        "DeliveryList": _page("Delivery"),
        "AuditEntry": _object(
            ["id", "at", "actor", "action", "target", "ip"],
            id=STR, at=TIME,
            actor=_object(
                ["type", "id", "label"],
                type={"type": "string", "enum": ["key", "session", "admin", "github"]}, id=STR, label=STR,
            ),
            action=STR, target=STR, ip=MAYBE_STR,
        ),
        "AuditList": _page("AuditEntry"),
        "KeyActivity": _object(
            ["key_id", "granularity", "data", "last_used_at", "last_used_ip"],
            key_id=STR, granularity={"type": "string", "enum": ["hour", "day"]},
            data={"type": "array", "items": _object(["start", *_activity_fields()], start=TIME,
                                                    **dict.fromkeys(_activity_fields(), INT))},
            last_used_at=MAYBE_TIME, last_used_ip=MAYBE_STR,
        ),
    }  # fmt: skip


def _activity_fields() -> list[str]:
    from filegate.activity.outcomes import FIELDS

    return list(FIELDS)


# The success body of each route whose handler returns a plain dict: (method, path) → (status, schema).
RESPONSE_BODIES: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/keys/free"): ("201", "FreeKey"),
    ("GET", "/v1/keys"): ("200", "KeyList"),
    ("POST", "/v1/keys"): ("201", "NewKey"),
    ("PATCH", "/v1/keys/{id}"): ("200", "Key"),
    ("POST", "/v1/keys/{id}/rotate"): ("201", "NewKey"),
    ("POST", "/v1/keys/rotate"): ("201", "NewKey"),
    ("GET", "/v1/entitlements/me"): ("200", "Entitlements"),
    ("GET", "/v1/usage"): ("200", "Usage"),
    ("GET", "/v1/audit"): ("200", "AuditList"),
    ("GET", "/v1/keys/{id}/activity"): ("200", "KeyActivity"),
    ("GET", "/v1/formats"): ("200", "Formats"),
    ("POST", "/v1/conversions"): ("202", "Conversion"),
    ("POST", "/v1/conversions/bulk"): ("202", "BulkConversions"),
    ("GET", "/v1/conversions"): ("200", "ConversionList"),
    ("GET", "/v1/conversions/{id}"): ("200", "Conversion"),
    ("POST", "/v1/files"): ("201", "NewFile"),
    ("POST", "/v1/files/import"): ("202", "File"),
    ("POST", "/v1/files/{id}/complete"): ("200", "File"),
    ("GET", "/v1/files"): ("200", "FileList"),
    ("GET", "/v1/files/{id}"): ("200", "File"),
    ("POST", "/v1/webhooks/secret"): ("201", "WebhookSecret"),
    ("POST", "/v1/webhooks"): ("201", "Webhook"),
    ("GET", "/v1/webhooks"): ("200", "WebhookList"),
    ("POST", "/v1/webhooks/{id}/test"): ("202", "Delivery"),
    ("GET", "/v1/webhooks/{id}/deliveries"): ("200", "DeliveryList"),
}


def _shared_schemas() -> dict[str, Any]:
    return {
        **_response_schemas(),
        "Error": ERROR_SCHEMA,
        "ConversionOptions": _conversion_options_schema(multipart=False),
        "ConversionRequest": _job_schema(),
        "BulkConversionRequest": _bulk_schema(),
        "Conversion": _object(
            [
                *("id", "status", "source_file_id", "target", "output_file_id"),
                *("error", "progress", "created_at", "completed_at"),
            ],
            id=STR,
            status={"type": "string", "enum": ["queued", "processing", "succeeded", "failed"]},
            source_file_id=MAYBE_STR,
            target=STR,
            options={"type": "object"},
            output_file_id=MAYBE_STR,
            error={"type": ["object", "string", "null"]},
            progress={
                "type": "integer",
                "minimum": 0,
                "maximum": 100,
                "description": "Percent done: only grows while the job runs; 100 when it succeeded.",
            },
            created_at=TIME,
            completed_at=MAYBE_TIME,
        ),
    }


# ------------------------------------------------------------------ the merge


def _drop_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``X | None`` → ``X`` where absence already says "none" (optional parameters and options)."""
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        rest = [v for v in variants if v != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(variants):
            merged = {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
            return merged
    return dict(schema)


def _table_route(method: str, path: str, routes: Iterable[Route]) -> Route:
    """The route table's entry for a FastAPI route; path parameter names may differ, their places may not."""
    segments = path.strip("/").split("/")
    for route in routes:
        theirs = route.path.strip("/").split("/")
        if route.method != method or len(theirs) != len(segments):
            continue
        if all(a == b or (a.startswith("{") and b.startswith("{")) for a, b in zip(theirs, segments, strict=True)):
            return route
    raise ValueError(f"{method} {path} is served by an app but is not in filegate.routes.ROUTES")


def _rename_path_parameters(operation: dict[str, Any], app_path: str, table_path: str) -> None:
    renames = {
        a[1:-1]: b[1:-1]
        for a, b in zip(app_path.strip("/").split("/"), table_path.strip("/").split("/"), strict=True)
        if a.startswith("{")
    }
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") in renames:
            parameter["name"] = renames[parameter["name"]]
            parameter.get("schema", {}).pop("title", None)


def _tidy_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if not parameter.get("required"):
            parameter["schema"] = _drop_null(parameter.get("schema", {}))
        parameter.get("schema", {}).pop("title", None)


def _fastapi_validation(response: Mapping[str, Any]) -> bool:
    """FastAPI's automatic 422: our apps answer a validation error with 400 invalid_request instead."""
    schema = (response.get("content") or {}).get(JSON, {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def _declared(response: Mapping[str, Any] | None) -> bool:
    """Did the app say something real about this response (more than FastAPI's empty default)?"""
    if not response:
        return False
    content = response.get("content") or {}
    return any(not _vague(media.get("schema")) for media in content.values()) or "headers" in response


def _vague(schema: Mapping[str, Any] | None) -> bool:
    """FastAPI's schema for ``-> dict[str, Any]`` or ``-> Response``: says nothing about the body."""
    if not schema:
        return True
    said = {k: v for k, v in schema.items() if k not in ("title", "description")}
    return said in ({}, {"type": "object"}, {"type": "object", "additionalProperties": True})


def _lay_over(responses: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Fill in what the app left undeclared; a default that lists successes replaces FastAPI's guessed one."""
    if any(status[0] in "23" for status in defaults):
        for status in [s for s, r in responses.items() if s[0] in "23" and s not in defaults and not _declared(r)]:
            del responses[status]
    for status, response in defaults.items():
        if not _declared(responses.get(status)):
            responses[status] = copy.deepcopy(response)


def _success_headers(route: Route) -> dict[str, Any]:
    from filegate.routes import PUBLIC

    headers = {"X-Request-Id": _header("X-Request-Id", required=True)}
    if route.scope != PUBLIC:
        headers["RateLimit"] = _header("RateLimit", required=True)
        headers["RateLimit-Policy"] = _header("RateLimit-Policy", required=True)
    return headers


def _error_responses(
    route: Route, operation: Mapping[str, Any], codes: Mapping[int, list[str]], gateway: Iterable[GatewayAnswer]
) -> dict[str, Any]:
    from filegate.routes import PUBLIC

    keyed = route.scope != PUBLIC
    has_body = "requestBody" in operation or route.method in ("POST", "PATCH", "PUT")
    rid = {"X-Request-Id": _header("X-Request-Id", required=True)}
    rate = {
        "RateLimit": _header("RateLimit", required=False),
        "RateLimit-Policy": _header("RateLimit-Policy", required=False),
    }
    gateway_codes: dict[int, set[str]] = {}
    for answer in gateway:
        gateway_codes.setdefault(answer.status, set()).add(answer.code)
    out: dict[str, Any] = {}
    if operation.get("parameters") or has_body:
        out["400"] = _error_response(
            "A malformed request; the message names the field.", ["invalid_request"], {**rid, **rate}
        )
    if keyed:
        out["401"] = _error_response(
            "No valid key (the same answer for every cause).",
            ["invalid_api_key"],
            {**rid, "WWW-Authenticate": _header("WWW-Authenticate", required=False)},
        )
        forbidden = ["insufficient_scope", "account_suspended"] + (["tier_required"] if route.feature else [])
        out["403"] = _error_response("The key or account may not call this route.", forbidden, {**rid, **rate})
    if "{" in route.path:
        out["404"] = _error_response("No such resource (also another account's).", ["not_found"], {**rid, **rate})
    if has_body:
        out["413"] = _error_response(
            "The body is over a limit; the message says how to send it instead.",
            sorted({"file_too_large", *gateway_codes.get(413, set())}),
            {**rid, **rate},
        )
    limited = {"rate_limited", *gateway_codes.get(429, set())} | ({"quota_exceeded"} if keyed else set())
    out["429"] = _error_response(
        "Over a limit (per minute, per month, or the stage's throttle).",
        sorted(limited),
        {**rid, "Retry-After": _header("Retry-After", required=True), **rate},
    )
    out["500"] = _error_response("A bug, logged with the request id.", codes.get(500, ["internal_error"]), rid)
    out["default"] = _error_response(
        "Any other error of docs/api.md §4 (409 conflict, 415 unsupported_media_type, 422 …).",
        [c for status_codes in codes.values() for c in status_codes],
        rid,
    )
    return out


def _link_created_resources(paths: Mapping[str, dict[str, Any]], schemas: Mapping[str, Any]) -> None:
    """OpenAPI links from a create (``POST /v1/files`` → 201) to the routes on what it created
    (``/v1/files/{id}…``), so a client or a stateful tester can follow an id from one answer to the next."""
    for path, operations in paths.items():
        create = operations.get("post")
        if create is None or "{" in path:
            continue
        targets = [
            (sub_path, op)
            for sub_path, ops in paths.items()
            if sub_path.startswith(path + "/{id}")
            for op in ops.values()
        ]
        for status, response in create["responses"].items():
            if status not in ("201", "202") or not targets:
                continue
            ref = (response.get("content") or {}).get(JSON, {}).get("schema", {}).get("$ref", "")
            fields = _properties(schemas, ref.rsplit("/", 1)[-1])
            id_field = next((f for f in ("id", "key_id") if f in fields), None)
            if id_field is None:
                continue
            response["links"] = {
                op["operationId"]: {
                    "operationId": op["operationId"],
                    "parameters": {"path.id": f"$response.body#/{id_field}"},
                }
                for _, op in targets
            }


def _properties(schemas: Mapping[str, Any], name: str) -> set[str]:
    """The property names of a component schema, through ``allOf``."""
    schema = schemas.get(name) or {}
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found |= _properties(schemas, str(part.get("$ref", "")).rsplit("/", 1)[-1]) | set(part.get("properties", {}))
    return found


def build_document(
    apps: Mapping[str, FastAPI],
    *,
    gateway: Iterable[GatewayAnswer] = (),
    servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole API's document from each function's app (``{"keys": app, ...}``) and the route table."""
    from fastapi.routing import APIRoute

    from filegate.routes import PUBLIC, ROUTES

    gateway = list(gateway)
    codes = _error_codes()
    overrides = _overrides()
    schemas: dict[str, Any] = {}
    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for function, app in sorted(apps.items()):
        generated = app.openapi()
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            if name in ("HTTPValidationError", "ValidationError"):
                continue  # FastAPI's 422; our apps answer 400 invalid_request instead
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"two apps define different schemas named {name}")
            schemas[name] = schema
        for app_route in app.routes:
            if not isinstance(app_route, APIRoute) or not app_route.include_in_schema:
                continue
            for method in sorted((app_route.methods or set()) - {"HEAD"}):
                route = _table_route(method, app_route.path_format, ROUTES)
                if route.function != function:
                    raise ValueError(f"{method} {route.path} is served by {function}, the table says {route.function}")
                operation = copy.deepcopy(generated["paths"][app_route.path_format][method.lower()])
                operation["operationId"] = app_route.name
                operation["tags"] = [function]
                _rename_path_parameters(operation, app_route.path_format, route.path)
                _tidy_parameters(operation)
                responses = {
                    status: r for status, r in operation.get("responses", {}).items() if not _fastapi_validation(r)
                }
                model = _parsed_body_model(app_route.endpoint)
                if model is not None and "requestBody" not in operation:
                    body_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                    schemas.update(body_schema.pop("$defs", {}))
                    _name_scopes(body_schema)
                    schemas[model.__name__] = body_schema
                    operation["requestBody"] = {
                        "required": bool(body_schema.get("required")),
                        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
                    }
                extra = copy.deepcopy(overrides.get((route.method, route.path), {}))
                if (route.method, route.path) in RESPONSE_BODIES:
                    status, name = RESPONSE_BODIES[(route.method, route.path)]
                    extra.setdefault("responses", {})[status] = {
                        "description": "Success.",
                        "content": {JSON: {"schema": _ref(name)}},
                    }
                if "requestBody" in extra and "requestBody" not in operation:
                    operation["requestBody"] = extra["requestBody"]
                _lay_over(responses, extra.get("responses", {}))
                for status, response in responses.items():
                    if status[0] in "23":
                        headers = response.setdefault("headers", {})
                        for name, header in _success_headers(route).items():
                            headers.setdefault(name, header)
                responses.update(_error_responses(route, operation, codes, gateway))
                operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))
                operation["security"] = [] if route.scope == PUBLIC else copy.deepcopy(KEYED)
                operation["x-filegate-scope"] = route.scope
                if route.feature:
                    operation["x-filegate-tier-feature"] = route.feature
                who = "No key." if route.scope == PUBLIC else f"Scope: `{route.scope}`."
                if route.feature:
                    who += f" Tier feature: `{route.feature}` (403 tier_required on free)."
                operation["description"] = f"{operation.get('description', '').strip()}\n\n{who}".strip()
                operations[(route.method, route.path)] = operation
    unknown = sorted({*overrides, *RESPONSE_BODIES} - {(r.method, r.path) for r in ROUTES})
    if unknown:
        raise ValueError(f"openapi.py describes routes the route table does not have: {unknown}")
    missing = [f"{r.method} {r.path}" for r in ROUTES if (r.method, r.path) not in operations and r.function in apps]
    if missing:
        raise ValueError(f"in the route table but served by no app: {', '.join(missing)}")
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:  # the table's order
        if (route.method, route.path) in operations:
            paths.setdefault(route.path, {})[route.method.lower()] = operations[(route.method, route.path)]
    schemas.update(_shared_schemas())
    _link_created_resources(paths, schemas)
    responses = _share_error_responses(paths)
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
            "responses": responses,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
