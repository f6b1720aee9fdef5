"""Conversions: the option table as a schema, the sync forms, jobs (single and bulk) and the formats matrix."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from filegate.conversions.create import MAX_BULK_ITEMS, MAX_WEBHOOK_URL_LENGTH
from filegate.conversions.merges import MAX_INPUTS, MIN_INPUTS
from filegate.formats import options, table
from filegate.models.base import RequestBody, ResponseBody, Timestamp
from filegate.models.files import ImportHeaders

# ------------------------------------------------------------------ the option table as a schema


def option_schema(option: options.Option) -> dict[str, Any]:
    """One option's JSON Schema, from its row of the option table (the PDF tools': docs/pdf-tools.md)."""
    by_type: dict[str, dict[str, Any]] = {
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
        "boolean": {"type": "boolean"},
        "fit": {"type": "string", "enum": ["contain", "cover"]},
    }
    if option.type in by_type:
        return by_type[option.type]
    if option.type == "text":
        if option.choices:
            return {"type": "string", "enum": list(option.choices)}
        # A sheet's number or a single page may also come as a JSON integer.
        return {"type": ["string", "integer"], "minLength": 1, "maxLength": options.MAX_TEXT_OPTION}
    integer = option.type == "integer"
    low, high = (int(option.low), int(option.high)) if integer else (option.low, option.high)
    bound = {"exclusiveMinimum": low} if option.above_low else {"minimum": low}
    return {"type": "integer" if integer else "number", **bound, "maximum": high}


def _image_defaults() -> dict[str, Any]:
    """ImageOptions' defaults (what an unset image option means), for the schema."""
    return {
        f.name: f.default
        for f in dataclasses.fields(options.ImageOptions)
        if f.default is not None and f.default is not dataclasses.MISSING
    }


def _option_fields(names: tuple[str, ...]) -> dict[str, Any]:
    """The options `names` as optional model fields, each described by its row of the option table. The
    handlers parse them with the table's own rules (messages naming the option): the fields only describe."""
    defaults = _image_defaults()
    fields: dict[str, Any] = {}
    for name in names:
        schema = option_schema(options.OPTIONS[name])
        if name in defaults:
            schema = {**schema, "default": defaults[name]}
        fields[name] = (Annotated[Any, WithJsonSchema(schema)], None)
    return fields


def _described_only(schema: dict[str, Any]) -> None:
    """An option's schema is its row's: no pydantic title, no `null` default (absence means unset)."""
    for field in schema.get("properties", {}).values():
        field.pop("title", None)
        if field.get("default", ...) is None:
            field.pop("default")


_OPTION_CONFIG = ConfigDict(extra="forbid", json_schema_extra=_described_only)

# Every option of the option table (images', media's, documents', the PDF tools'); GET /v1/formats says which
# apply to which pair.
ConversionOptions: type[BaseModel] = create_model(
    "ConversionOptions", __config__=_OPTION_CONFIG, **_option_fields(tuple(options.OPTIONS))
)


class _Described:
    """A field validated as anything (its own rules check it, with their own messages) and described by
    `model`'s schema."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.any_schema()

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # By reference, so the model is one named schema wherever it is used.
        model = self.model.__pydantic_core_schema__
        ref = str(model.get("ref"))
        return handler(core_schema.definitions_schema(core_schema.definition_reference_schema(ref), [model]))


# ------------------------------------------------------------------ the sync forms (POST /v1/convert, /v1/compress)

_TARGETS = sorted({t for source in table.FORMATS for t in table.targets_for(source)})
Target = Annotated[
    str,
    Field(min_length=1, max_length=20),
    WithJsonSchema({"type": "string", "enum": _TARGETS, "description": "See GET /v1/formats."}),
]
_FILE_PART: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}
_MERGED_FILES = "Several file parts with target pdf are merged into one PDF, in order."
# What POST /v1/compress takes: a quality, and for a PDF its own (the formats table's rule, per source).
COMPRESS_OPTIONS = tuple(
    name for name in options.OPTIONS if any(name in table.compress_options(source) for source in table.FORMATS)
)
# A part the form does not name is refused (422 invalid_parameter naming it), as in a JSON body.
_FORM_CONFIG = ConfigDict(extra="forbid", json_schema_extra=_described_only)

_CONVERT_PARTS: dict[str, Any] = {
    "file": (Annotated[Any, WithJsonSchema({**_FILE_PART, "description": _MERGED_FILES})], ...),
    "target": (Target, ...),
}
_COMPRESS_PARTS: dict[str, Any] = {"file": (Annotated[Any, WithJsonSchema(_FILE_PART)], ...)}
ConvertForm: type[BaseModel] = create_model(
    "ConvertForm", __config__=_FORM_CONFIG, **_CONVERT_PARTS, **_option_fields(tuple(options.OPTIONS))
)
CompressForm: type[BaseModel] = create_model(
    "CompressForm", __config__=_FORM_CONFIG, **_COMPRESS_PARTS, **_option_fields(COMPRESS_OPTIONS)
)

# ------------------------------------------------------------------ jobs


class ConversionRequest(RequestBody):
    file_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="A ready file (POST /v1/files)."
    )
    file_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        min_length=MIN_INPUTS,
        max_length=MAX_INPUTS,
        description="In place of file_id: ready files merged into one PDF, in order (target pdf).",
    )
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="In place of file_id: a URL imported first (see POST /v1/files/import).",
    )
    headers: ImportHeaders = None
    target: Target
    # Checked by the conversion options' own rules: 422 invalid_parameter naming the option.
    options: Annotated[Any, _Described(ConversionOptions)] = None
    webhook_url: str | None = Field(
        default=None, max_length=MAX_WEBHOOK_URL_LENGTH, json_schema_extra={"format": "uri"}
    )


class BulkConversionRequest(RequestBody):
    items: list[ConversionRequest] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class ConversionError(ResponseBody):
    code: str
    message: str


class Conversion(ResponseBody):
    id: str
    status: Literal["queued", "processing", "succeeded", "failed"]
    mode: Literal["sync", "async"] | None
    source_file_id: str | None
    target: str
    options: dict[str, Any]
    output_file_id: str | None
    error: ConversionError | None
    progress: int = Field(
        ge=0, le=100, description="Percent done: only grows while the job runs; 100 when it succeeded."
    )
    created_at: Timestamp
    completed_at: Timestamp | None


class ConversionList(ResponseBody):
    data: list[Conversion]
    next_cursor: str | None


class BulkConversions(ResponseBody):
    data: list[Conversion]


class StoredOutput(ResponseBody):
    """A sync conversion's output over the sync limit: stored; `url` (also Location) is a short-lived download."""

    id: str
    status: Literal["succeeded"]
    url: str


# ------------------------------------------------------------------ the formats matrix (GET /v1/formats)


class Format(ResponseBody):
    kind: Literal["image", "document", "audio", "video"]
    to: list[str]
    options: list[str]
    content_type: str
    extensions: list[str]
    compress: bool
    compress_options: list[str]


class Merge(ResponseBody):
    target: str
    from_: list[str] = Field(alias="from")
    options: list[str]


class Formats(ResponseBody):
    formats: dict[str, Format]
    merge: Merge


_CONVERSION_ID = {"description": "The conversion's id (conv_…).", "schema": {"type": "string"}, "required": True}


def sync_conversion_responses() -> dict[int | str, dict[str, Any]]:
    """The answers of POST /v1/convert and /v1/compress besides errors (docs/api.md "Conversion")."""
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    media_types = sorted({table.content_type(name) for name in {*table.FORMATS, *_TARGETS}})
    return {
        200: {
            "description": "The converted bytes.",
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="<stem>.<target>"',
                    "schema": {"type": "string"},
                    "required": True,
                },
                "X-Conversion-Id": _CONVERSION_ID,
            },
            "content": dict.fromkeys(media_types, binary),
        },
        202: {
            "model": Conversion,
            "description": "Too much work for the sync budget: it goes on as a job (see GET /v1/conversions/{id}).",
        },
        303: {
            "model": StoredOutput,
            "description": "The output is over the sync limit: it was stored; Location is a short-lived download.",
            "headers": {"X-Conversion-Id": _CONVERSION_ID},
        },
    }
