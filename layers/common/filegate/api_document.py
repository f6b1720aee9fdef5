"""The API's OpenAPI 3.1 document (docs/api.md "Description of the API"), as `GET /v1/openapi.json` serves it.

It is generated at build time from the code (``make openapi``: infra/build_openapi.py and
infra/openapi_builder.py) and shipped beside this module; a test fails when it is stale.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DOCUMENT_FILE = Path(__file__).with_name("openapi.json")


@cache
def document_bytes() -> bytes:
    """The generated document as shipped in the layer (read once per container)."""
    return DOCUMENT_FILE.read_bytes()


@cache
def document_for(public_base_url: str) -> bytes:
    """The document a deployment serves: with a custom domain (the ``public_base_url`` setting), that domain is
    its one server; without, the generated servers (the execute-api pattern and the local stack)."""
    if not public_base_url:
        return document_bytes()
    document = json.loads(document_bytes())
    document["servers"] = [{"url": public_base_url.rstrip("/"), "description": "This deployment"}]
    return json.dumps(document, separators=(",", ":")).encode()
