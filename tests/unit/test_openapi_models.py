"""The API described from declared models (filegate.models): every option a route accepts is in the document,
each operation lists its usual errors with their codes, response models never change a body, and the SDK's
types are the models' fields without importing the server."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from filegate.formats import table
from filegate.models import conversions, files, keys
from filegate.models.base import EXACT, ResponseBody
from filegate.routes import PUBLIC, ROUTES
from filegate.web import _declared_query_parameters

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

import build_openapi  # noqa: E402
import sdk_types  # noqa: E402

from filegate_local.template import Template  # noqa: E402

DOCUMENT = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]


@cache
def _apps() -> dict[str, FastAPI]:
    return build_openapi.load_apps(Template(ROOT / "template.yaml", moto_endpoint=build_openapi.NOWHERE))


def _declared_routes() -> list[tuple[str, APIRoute]]:
    return [
        (method, route)
        for app in _apps().values()
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]


def _table_path(method: str, app_path: str) -> str:
    segments = app_path.strip("/").split("/")
    for route in ROUTES:
        theirs = route.path.strip("/").split("/")
        same_shape = route.method == method and len(theirs) == len(segments)
        if same_shape and all(a == b or (a[0] == b[0] == "{") for a, b in zip(theirs, segments, strict=True)):
            return route.path
    raise AssertionError(f"{method} {app_path} is not in the route table")


def _operation(method: str, route: APIRoute) -> dict[str, Any]:
    return DOCUMENT["paths"][_table_path(method, route.path_format)][method.lower()]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return SCHEMAS[ref.rsplit("/", 1)[-1]] if ref else schema


def _body_schema(operation: dict[str, Any], media_type: str) -> dict[str, Any]:
    return _resolve(operation["requestBody"]["content"][media_type]["schema"])


def test_every_declared_parameter_is_in_the_document_as_the_route_declares_it():
    """Query and header parameters come from each route's own signature (and its dependencies')."""
    checked = 0
    for method, route in _declared_routes():
        operation = _operation(method, route)
        documented = {(p["in"], p["name"]): p.get("required", False) for p in operation.get("parameters", [])}
        for name in _declared_query_parameters(route):
            assert ("query", name) in documented, (method, route.path, name)
            checked += 1
        for header in route.dependant.header_params:
            name = header.alias.replace("_", "-")
            assert any(where == "header" and n.lower() == name for where, n in documented), (route.path, name)
            checked += 1
    assert checked > 10


def test_every_field_of_every_declared_body_model_is_in_the_document():
    """A JSON body a handler parses itself is declared from its model (openapi_extra): the document's schema
    has exactly the model's fields, required as the model requires them."""
    bodies = 0
    for method, route in _declared_routes():
        declared = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
        for media_type, media in declared.items():
            schema = media["schema"]
            if schema.get("type") != "object":
                continue  # an array body (GitHub's findings): its items are a model, checked below by name
            documented = _body_schema(_operation(method, route), media_type)
            assert set(documented["properties"]) == set(schema["properties"]), (method, route.path)
            assert set(documented.get("required", [])) == set(schema.get("required", [])), (method, route.path)
            bodies += 1
    assert bodies >= 10


def test_the_sync_forms_take_every_option_the_formats_table_lets_them_take():
    """POST /v1/convert takes every option of every source (and of a merge); POST /v1/compress every option
    any source can be compressed with. Both come from the formats table, not from a list here."""
    convert = _body_schema(DOCUMENT["paths"]["/v1/convert"]["post"], "multipart/form-data")
    compress = _body_schema(DOCUMENT["paths"]["/v1/compress"]["post"], "multipart/form-data")
    taken = {name for source in table.FORMATS for name in table.options_for(source)}
    merged = set(table.formats_document()["merge"]["options"])
    compressed = {name for source in table.FORMATS for name in table.compress_options(source)}
    assert taken | merged | {"file", "target"} <= set(convert["properties"])
    assert {"start", "duration", "fps", "audio_bitrate", "mute", "at"} <= set(convert["properties"])
    assert compressed | {"file"} <= set(compress["properties"])
    assert set(convert["required"]) == {"file", "target"} and compress["required"] == ["file"]
    job_options = SCHEMAS["ConversionOptions"]["properties"]
    assert taken | merged <= set(job_options)
    assert SCHEMAS["ConversionRequest"]["properties"]["options"]["$ref"].endswith("/ConversionOptions")


def test_every_operation_lists_its_usual_errors_with_their_codes():
    def codes(response: dict[str, Any]) -> set[str]:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        narrowed = response["content"]["application/json"]["schema"]["allOf"][1]
        return set(narrowed["properties"]["error"]["properties"]["code"]["enum"])

    for route in ROUTES:
        responses = DOCUMENT["paths"][route.path][route.method.lower()]["responses"]
        assert {"405", "422", "429", "500", "default"} <= set(responses), route
        assert codes(responses["405"]) == {"method_not_allowed"}
        assert "invalid_parameter" in codes(responses["422"])  # an unknown query parameter, on every route
        assert "rate_limited" in codes(responses["429"])
        if route.scope != PUBLIC:
            assert codes(responses["401"]) == {"invalid_api_key"}
            assert ("tier_required" in codes(responses["403"])) == bool(route.feature)
        if "{" in route.path:
            assert codes(responses["404"]) == {"not_found"}
        if route.method in ("POST", "PATCH"):
            assert "file_too_large" in codes(responses["413"])
            assert "unsupported_media_type" in codes(responses["415"])
    convert = DOCUMENT["paths"]["/v1/convert"]["post"]["responses"]
    assert {"unsupported_conversion", "conversion_failed", "invalid_parameter"} <= codes(convert["422"])
    assert "quota_exceeded" in codes(convert["429"])
    assert "quota_exceeded" not in codes(DOCUMENT["paths"]["/v1/keys"]["get"]["responses"]["429"])
    assert codes(DOCUMENT["paths"]["/v1/keys/free"]["post"]["responses"]["409"]) == {"email_taken"}


def test_every_answer_that_creates_or_redirects_carries_location():
    for route in ROUTES:
        for status, response in DOCUMENT["paths"][route.path][route.method.lower()]["responses"].items():
            if status in ("202", "302", "303"):
                assert response["headers"]["Location"]["required"] is True, (route, status)


def test_a_response_model_sends_the_domain_body_as_it_is():
    """Fields the model does not list are sent, fields the domain left out are not added, values untouched."""
    app = FastAPI()
    body = {
        "id": "file_1",
        "filename": "a.png",
        "status": "ready",
        "origin": "upload",
        "size": 3,
        "format": "png",
        "content_type": "image/png",
        "metadata": None,
        "error": None,
        "created_at": "2026-01-01T00:00:00.123+00:00",
        "completed_at": None,
        "expires_at": "2026-01-02T00:00:00Z",
        "a_field_added_later": {"nested": [1, 2]},
    }
    usage = {"from": "2026-01", "to": "2026-02", "months": [], "days": [], "note": "x"}

    @app.get("/file", response_model=files.File, **EXACT)
    def file() -> dict[str, Any]:
        return body

    @app.get("/usage", response_model=keys.Usage, **EXACT)
    def usage_report() -> dict[str, Any]:
        return usage

    # TestClient runs the app in a loop of its own (asyncio.run would leave this thread without one, and
    # the handlers tested after this one expect Lambda's: a current loop on the main thread).
    with TestClient(app) as client:
        assert client.get("/file").json() == body
        assert client.get("/usage").json() == usage
    partial = {k: v for k, v in usage.items() if k != "note"}
    assert keys.Usage.model_validate(partial).model_dump(by_alias=True, exclude_unset=True) == partial


def test_every_route_answering_with_a_model_dumps_only_what_the_domain_set():
    for method, route in _declared_routes():
        model = route.response_model
        if isinstance(model, type) and issubclass(model, ResponseBody):
            assert route.response_model_exclude_unset, (method, route.path)


@pytest.mark.parametrize("model", sdk_types.response_models(), ids=lambda m: m.__name__)
def test_the_sdk_types_are_the_models_fields(model: type[ResponseBody]) -> None:
    from filegate_client import types as sdk

    typed = getattr(sdk, model.__name__)
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    assert set(typing.get_type_hints(typed)) == set(fields)
    assert typed.__required_keys__ == {name for name, field in fields.items() if field.is_required()}
    for name, field in fields.items():
        nullable = type(None) in typing.get_args(field.annotation)
        assert (type(None) in typing.get_args(typing.get_type_hints(typed)[name])) == nullable, name


def test_the_sdk_does_not_import_the_server():
    code = (
        "import sys, filegate_client, filegate_client.types, filegate_client.cli\n"
        "loaded = sorted(m for m in sys.modules if m == 'filegate' or m.startswith(('filegate.', 'pydantic')))\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT / "clients")


def test_the_models_name_the_conversion_options_once():
    assert set(conversions.ConversionOptions.model_fields) == set(SCHEMAS["ConversionOptions"]["properties"])
    assert set(SCHEMAS["ConvertForm"]["properties"]) - {"file", "target"} == set(
        conversions.ConversionOptions.model_fields
    )
