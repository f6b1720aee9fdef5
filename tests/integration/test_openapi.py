"""GET /v1/openapi.json serves the generated document (tests/unit/test_openapi_document.py holds it)."""

from __future__ import annotations

import json
from pathlib import Path

import requests

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text(encoding="utf-8"))


def test_the_document_is_served_without_a_key(stack):
    response = requests.get(stack.url + "/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    # The local stack passes its own address as PublicBaseUrl, so the deployment names itself as the server.
    served = response.json()
    assert served["servers"] == [{"url": stack.url, "description": "This deployment"}]
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT
