"""What every body model shares: the request and response bases, timestamps, pages and route declarations."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, WithJsonSchema

from filegate.errors import ApiError

JSON = "application/json"
# Where a declared error's codes ride from a route's `responses=` to the builder (infra/openapi_builder.py).
CODES_KEY = "x-filegate-codes"
REF = "#/components/schemas/{model}"

# Timestamps pass through as the domain wrote them (ISO 8601, UTC); the schema says what they are.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class RequestBody(BaseModel):
    """Base of every JSON request body: an unknown field is 422 invalid_parameter naming it, never ignored."""

    model_config = ConfigDict(extra="forbid")


class ResponseBody(BaseModel):
    """Base of every JSON response body: a field the domain adds is sent as is, never dropped."""

    model_config = ConfigDict(extra="allow")


# Every route that answers with a model dumps only what the domain set: a model never adds a field.
EXACT: dict[str, Any] = {"response_model_exclude_unset": True}


def json_body(body: Any) -> dict[str, Any]:
    """``openapi_extra`` for a handler that validates its own JSON body (``parse_body``: its own messages).
    The body's schema (a model, or any type pydantic describes) is inline with its ``$defs``; the document
    builder moves those to components."""
    schema = TypeAdapter(body).json_schema(ref_template=REF)
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def form_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a multipart form the handler parses itself (its parts' names and limits)."""
    schema = model.model_json_schema(ref_template=REF)
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def may_send(*kinds: type[ApiError]) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` entries for the errors it sends beyond every route's usual ones (docs/api.md
    §4), by status; the builder adds the error body and the usual codes of that status."""
    declared: dict[int | str, dict[str, Any]] = {}
    for kind in kinds:
        entry = declared.setdefault(kind.status, {"description": kind.default_message, CODES_KEY: []})
        entry[CODES_KEY] = sorted({*entry[CODES_KEY], kind.code})
    return declared
