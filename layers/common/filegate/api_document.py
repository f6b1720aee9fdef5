"""The API's OpenAPI 3.1 document (API.md "Description of the API"), as `GET /v1/openapi.json` serves it.

It is generated at build time from the code (``make openapi``: infra/build_openapi.py and
infra/openapi_builder.py) and shipped beside this module; a test fails when it is stale.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCUMENT_FILE = Path(__file__).with_name("openapi.json")


@cache
def document_bytes() -> bytes:
    """The generated document as shipped in the layer (read once per container)."""
    return DOCUMENT_FILE.read_bytes()
