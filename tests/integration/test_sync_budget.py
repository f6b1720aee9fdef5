"""docs/api.md "Conversion", the sync budget: work that will not finish in time goes on as a job (202 + Location),
never a 504. Runs on its own stack whose budget is shrunk so that a few megapixels are already too many."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from tests.helpers import media_samples as media
from tests.helpers.local_api import Client, conversions_used, new_account, wait_for_conversion
from tests.helpers.local_stack import running_stack
from tests.integration.media import decode

# The engine gets the budget less a 4 s reserve: about half a second here.
BUDGET = "4.5"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_stack(
        tmp_path_factory.mktemp("budget-stack"), environment={"SYNC_BUDGET_SECONDS": BUDGET}, workers_per_function=1
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(stack: Any) -> Client:
    return Client(stack.url, new_account(stack, tier="pro")["api_key"])


def _output(client: Client, file_id: str) -> bytes:
    redirect = client.get(f"/v1/files/{file_id}/content", allow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    return requests.get(redirect.headers["Location"], timeout=30).content


def _smooth(width: int, height: int) -> Image.Image:
    """Gradients: many pixels in few bytes, so the file stays under the 4 MB sync limit."""
    size = (width, height)
    return Image.merge(
        "RGB",
        (Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size), Image.new("L", size, 90)),
    )


def test_small_work_still_answers_in_the_request(client: Client) -> None:
    response = client.post(
        "/v1/convert", files={"file": ("s.png", media.sample("png", 64, 48))}, data={"target": "jpg"}
    )
    assert response.status_code == 200, response.text
    assert decode(response.content, "jpg") == ("jpg", 64, 48)


def test_convert_over_the_budget_continues_as_a_job(client: Client) -> None:
    before = conversions_used(client)
    data = media.encode(_smooth(2400, 1600), "png")
    response = client.post("/v1/convert", files={"file": ("big.png", data)}, data={"target": "avif", "width": "1200"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/conversions/{body['id']}"
    assert body["status"] == "queued" and body["target"] == "avif" and body["source_file_id"]
    assert body["options"]["width"] == 1200
    assert client.get(response.headers["Location"]).json()["id"] == body["id"]
    done = wait_for_conversion(client, body["id"])
    assert done["status"] == "succeeded", done
    assert decode(_output(client, done["output_file_id"]), "avif") == ("avif", 1200, 800)
    assert conversions_used(client) == before + 1  # one conversion, charged once


def test_compress_over_the_budget_continues_as_a_job(client: Client) -> None:
    data = media.encode(_smooth(2400, 1600), "png", compress_level=1)
    response = client.post("/v1/compress", files={"file": ("big.png", data)})
    assert response.status_code == 202, response.text
    done = wait_for_conversion(client, response.json()["id"])
    assert done["status"] == "succeeded", done
    output = _output(client, done["output_file_id"])
    assert len(output) < len(data)
    assert decode(output, "png") == ("png", 2400, 1600)
