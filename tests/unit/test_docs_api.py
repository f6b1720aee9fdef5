"""docs/api.md is the users' reference, held true against the OpenAPI document and the routes' own option table.

Every operation in openapi.json has a section of docs/api.md whose heading names its method and path, and that
section names (in backticks) every parameter, form field and JSON request member the operation takes; every
route a heading names exists. `/v1/convert` takes every conversion option there is (formats.options.OPTIONS),
so its section names each one even before the document lists it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from filegate.formats.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
API_PAGE = ROOT / "docs" / "api.md"
OPENAPI = ROOT / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
HEADING = re.compile(r"^(#+)\s+(.*)$")
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/\S+)")
BACKTICKED = re.compile(r"`([^`]+)`")


def route_sections(markdown: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) → the text under every heading naming that route, down to the next heading. Headings of
    one route stacked directly on another (two routes, one text) share the text that follows the last."""
    sections: dict[tuple[str, str], str] = {}
    pending: list[tuple[str, str]] = []
    lines: list[str] = []

    def close() -> None:
        for route in pending:
            sections[route] = sections.get(route, "") + "\n".join(lines)

    for line in markdown.splitlines():
        heading = HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        if any(text.strip() for text in lines):
            close()
            pending = []
        lines = []
        pending += [(method, path) for method, path in ROUTE.findall(heading.group(2))]
    close()
    return sections


def named_in(text: str) -> set[str]:
    """Every name a text puts in backticks, also each word of a backticked JSON shape or list: `{"a","b"?}`."""
    names: set[str] = set()
    for quoted in BACKTICKED.findall(text):
        names.add(quoted.strip())
        names.update(re.findall(r"[A-Za-z_][\w-]*", quoted))
    return names


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, group, name = node["$ref"].split("/")
        node = document["components"][group][name]
    return node


def _members(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The top-level members of a request body's schema, through references and alternatives."""
    schema = _resolve(document, schema)
    members = set(schema.get("properties", {}))
    for alternatives in ("oneOf", "anyOf", "allOf"):
        for alternative in schema.get(alternatives, []):
            members |= _members(document, alternative)
    return members


def operation_inputs(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """The names of an operation's parameters (headers as they are spelt in the document) and body members."""
    names = {_resolve(document, parameter)["name"] for parameter in operation.get("parameters", [])}
    body = operation.get("requestBody")
    if body is not None:
        for content in _resolve(document, body).get("content", {}).values():
            names |= _members(document, content.get("schema", {}))
    return names


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def sections() -> dict[tuple[str, str], str]:
    return route_sections(API_PAGE.read_text(encoding="utf-8"))


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_every_operation_has_a_section(document: dict[str, Any], sections: dict[tuple[str, str], str]) -> None:
    missing = sorted(set(_operations(document)) - set(sections))
    assert missing == [], f"docs/api.md has no heading for: {missing}"


def test_every_documented_route_exists(document: dict[str, Any], sections: dict[tuple[str, str], str]) -> None:
    stale = sorted(set(sections) - set(_operations(document)))
    assert stale == [], f"docs/api.md documents routes the API does not have: {stale}"


def test_every_input_is_named_in_its_section(document: dict[str, Any], sections: dict[tuple[str, str], str]) -> None:
    unnamed = []
    for route, operation in sorted(_operations(document).items()):
        named = {name.lower() for name in named_in(sections.get(route, ""))}
        unnamed += [f"{route[0]} {route[1]}: {name}" for name in sorted(operation_inputs(document, operation))
                    if name.lower() not in named]  # fmt: skip
    assert unnamed == [], "name these in their route's section of docs/api.md:\n" + "\n".join(unnamed)


def test_convert_names_every_option_the_route_accepts(sections: dict[tuple[str, str], str]) -> None:
    named = named_in(sections[("POST", "/v1/convert")])
    assert sorted(set(OPTIONS) - named) == []


# The reader of the sections above must be able to fail: these pin what it finds.


def test_the_section_reader_sees_stacked_headings_and_stops_at_the_next_one() -> None:
    page = '#### POST /v1/a\n\n#### POST /v1/b\n\nBody `{"x","y"?}`.\n\n### Other\n\n`z`\n'
    sections = route_sections(page)
    assert set(sections) == {("POST", "/v1/a"), ("POST", "/v1/b")}
    assert named_in(sections[("POST", "/v1/a")]) >= {"x", "y"}
    assert "z" not in named_in(sections[("POST", "/v1/b")])


def test_an_undocumented_member_is_found() -> None:
    document: dict[str, Any] = {
        "paths": {"/v1/a": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "oneOf": [{"properties": {"x": {}}}, {"$ref": "#/components/schemas/B"}]}}}}}}},
        "components": {"schemas": {"B": {"properties": {"w": {}}}}},
    }  # fmt: skip
    inputs = operation_inputs(document, document["paths"]["/v1/a"]["post"])
    assert inputs == {"x", "w"}
    assert inputs - named_in('Body `{"x"}`.') == {"w"}
