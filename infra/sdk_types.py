"""The SDK's response types (clients/python/src/filegate_client/types.py), written from the API's models.

Each response model of ``filegate.models`` becomes a TypedDict of the same name, fields and optionality, so
the SDK describes exactly the bodies the routes declare, without importing the server at run time. Written
by ``make openapi`` (infra/build_openapi.py) beside the OpenAPI document; the same test finds either stale.
"""

from __future__ import annotations

import json
import keyword
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from filegate.models import conversions, files, keys, secret_scanning, webhooks
from filegate.models.base import ResponseBody

OUTPUT = Path(__file__).resolve().parents[1] / "clients" / "python" / "src" / "filegate_client" / "types.py"
MODULES = (keys, files, conversions, webhooks, secret_scanning)

HEADER = '''"""The API's JSON bodies (docs/api.md §5) as TypedDicts: what a method returns, for editors and type
checkers.

Written by `make openapi` from the server's models (layers/common/filegate/models): do not edit. At run time they
are plain dicts; fields the API adds later are present too, just not listed here.
"""

from __future__ import annotations

from typing import {imports}


class Page(TypedDict):
    """Any list's page: `data` holds the listed items (a KeyList's Keys, a FileList's Files, ...)."""

    data: list[dict[str, Any]]
    next_cursor: str | None
'''


def response_models() -> list[type[ResponseBody]]:
    """Every response model, each after the models it nests (the functional form needs them defined)."""
    ordered: list[type[ResponseBody]] = []

    def visit(model: type[ResponseBody]) -> None:
        if model in ordered:
            return
        for field in model.model_fields.values():
            for nested in _models_in(field.annotation):
                visit(nested)
        ordered.append(model)

    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ResponseBody) and value.__module__ == module.__name__:
                visit(value)
    return ordered


def _models_in(annotation: Any) -> Iterator[type[ResponseBody]]:
    if isinstance(annotation, type) and issubclass(annotation, ResponseBody):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


def annotation_source(annotation: Any) -> str:
    """A field's type as the SDK writes it: models by name, pydantic's metadata dropped."""
    origin = get_origin(annotation)
    arguments = get_args(annotation)
    if origin is Annotated:
        return annotation_source(arguments[0])
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | str | int | float | bool):
        return annotation.__name__
    if origin in (Union, types.UnionType):
        return " | ".join(annotation_source(a) for a in arguments)
    if origin is Literal:
        return f"Literal[{', '.join(json.dumps(a) for a in arguments)}]"
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(annotation_source(a) for a in arguments)}]"
    raise TypeError(f"no SDK spelling for {annotation!r}")


def _typed_dict(model: type[ResponseBody]) -> str:
    fields = {}
    for name, field in model.model_fields.items():
        spelled = annotation_source(field.annotation)
        fields[field.alias or name] = spelled if field.is_required() else f"NotRequired[{spelled}]"
    doc = model.__dict__.get("__doc__")
    if any(not key.isidentifier() or keyword.iskeyword(key) for key in fields):  # e.g. "from"
        members = "".join(f'        "{key}": {spelled},\n' for key, spelled in fields.items())
        return f'{model.__name__} = TypedDict(\n    "{model.__name__}",\n    {{\n{members}    }},\n)\n'
    body = "".join(f"    {key}: {spelled}\n" for key, spelled in fields.items())
    lines = textwrap.wrap(" ".join(doc.split()), 110) if doc else []
    docstring = '    """' + "\n    ".join(lines) + '"""\n\n' if lines else ""
    return f"class {model.__name__}(TypedDict):\n{docstring}{body}"


def render() -> str:
    body = "".join(f"\n\n{_typed_dict(model)}" for model in response_models())
    used = [
        name for name in ("Any", "Literal", "NotRequired", "TypedDict") if f"{name}[" in body or name == "TypedDict"
    ]
    return HEADER.replace("{imports}", ", ".join(sorted({*used, "Any"}))) + body
