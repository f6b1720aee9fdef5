"""The API's OpenAPI document: one for the whole API, generated from the code at build time, never stale
(served as is by GET /v1/openapi.json: tests/integration/test_openapi.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from filegate.routes import DASHBOARD_ROUTES, PUBLIC, ROUTES, is_catch_all
from filegate_local.model import build_model
from filegate_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(document):
    return {(m.upper(), path) for path, ops in document["paths"].items() for m in ops if m in METHODS}


def test_committed_document_is_fresh():
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "build_openapi.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{result.stderr}\nrun `make openapi` and commit openapi.json"


def test_routes_are_the_same_set_in_the_document_the_route_table_and_the_template():
    table = {(r.method, r.path) for r in ROUTES}
    model = build_model(Template(ROOT / "template.yaml"))
    # ANY events only answer a path's other methods (405): no route of their own, but for a greedy catch-all.
    template = {
        (r.method, r.path)
        for api in model.apis.values()
        for r in api.routes
        if r.method != "ANY" or is_catch_all(r.path)
    }
    dashboard = {(r.method, r.path) for r in DASHBOARD_ROUTES}  # web pages for people, not the API's description
    assert dashboard <= template
    assert _operations(DOCUMENT) == table == template - dashboard


def test_every_operation_says_who_may_call_it_and_documents_its_errors():
    by_route = {(r.method, r.path): r for r in ROUTES}
    assert set(DOCUMENT["components"]["securitySchemes"]) == {"bearerAuth", "basicAuth"}
    for (method, path), route in by_route.items():
        operation = DOCUMENT["paths"][path][method.lower()]
        assert operation["x-filegate-scope"] == route.scope
        responses = operation["responses"]
        assert "429" in responses and "default" in responses
        if route.scope == PUBLIC:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
            assert {"401", "403"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses
        for status, response in responses.items():
            if status.startswith(("2", "3")):
                assert response["headers"]["X-Request-Id"]["required"] is True
    too_many = DOCUMENT["components"]["responses"]["Error429"]
    assert too_many["headers"]["Retry-After"]["required"] is True


def test_limits_reach_the_document():
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["ConversionOptions"]["properties"]["quality"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert schemas["BulkConversionRequest"]["properties"]["items"]["maxItems"] == 100
    assert "jpg" in schemas["ConversionRequest"]["properties"]["target"]["enum"]
    rotate = schemas["RotateRequest"]["properties"]["grace_seconds"]
    assert (rotate["minimum"], rotate["maximum"]) == (0, 86400)
    scopes = schemas["CreateKeyRequest"]["properties"]["scopes"]["anyOf"][0]["items"]["enum"]
    assert "keys:manage" in scopes
    limit = next(p for p in DOCUMENT["paths"]["/v1/keys"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)


def test_creates_link_to_the_routes_on_what_they_created():
    links = DOCUMENT["paths"]["/v1/files"]["post"]["responses"]["201"]["links"]
    assert links["get_file"] == {"operationId": "get_file", "parameters": {"path.id": "$response.body#/id"}}
    key_links = DOCUMENT["paths"]["/v1/keys"]["post"]["responses"]["201"]["links"]
    assert key_links["revoke_key"]["parameters"] == {"path.id": "$response.body#/key_id"}
