"""docs/api.md "Documents" through the local stack, over real HTTP: the document function runs from the template's
container-image definition (its Dockerfile's task root) with Debian's LibreOffice, polled off its own queue.
Sync convert waits for it (200, or 202 with Location), jobs (single, bulk, of a URL) run on it with webhooks,
one unit per conversion given back on failure, the files' metadata, and the SDK and command line."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from filegate_client import FileGate
from tests.helpers import api_documents as documents
from tests.helpers.document_samples import in_order, pdf_text, zip_bomb
from tests.helpers.egress_servers import Site, serve, start_site, stop_site
from tests.helpers.local_api import (
    Client,
    assert_error,
    conversions_used,
    new_account,
    run_cli,
    upload,
    wait_for_conversion,
)
from tests.helpers.receiver import running_receiver

WORDS = list(documents.WORDS)


@pytest.fixture(scope="module", autouse=True)
def warm_document_function(stack) -> None:
    """One job first, with no budget to keep: the document function's cold start (LibreOffice starting, seconds
    on a busy machine) is paid here rather than by whichever sync request came first."""
    client = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    file = upload(client, documents.txt(), "warm-up.txt")
    job = client.post("/v1/conversions", json={"file_id": file["id"], "target": "pdf"}).json()
    assert wait_for_conversion(client, job["id"], timeout=180)["status"] == "succeeded"


@pytest.fixture
def pro(stack) -> Client:
    return Client(stack.url, new_account(stack, tier="pro")["api_key"])


def _convert(client: Client, data: bytes, target: str, filename: str, **fields: str) -> requests.Response:
    return client.post("/v1/convert", files={"file": (filename, data)}, data={"target": target, **fields}, timeout=90)


def _download(client: Client, file_id: str) -> bytes:
    content = client.get(f"/v1/files/{file_id}/content")
    assert content.status_code == 302, content.text
    return requests.get(content.headers["Location"], timeout=30).content


@pytest.mark.parametrize("kind", sorted(documents.every_kind()))
def test_every_kind_converts_to_pdf_in_one_request(pro: Client, kind: str) -> None:
    filename, data = documents.every_kind()[kind]
    response = _convert(pro, data, "pdf", filename)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert in_order(pdf_text(response.content), WORDS), pdf_text(response.content)
    assert conversions_used(pro) == 1


def test_every_kind_converts_as_jobs_in_one_bulk_request(pro: Client) -> None:
    files = {kind: upload(pro, data, name) for kind, (name, data) in documents.every_kind().items()}
    assert all(f["metadata"] == {"kind": "document", "format": kind} for kind, f in files.items()), files
    items = [{"file_id": f["id"], "target": "pdf"} for f in files.values()]
    created = pro.post("/v1/conversions/bulk", json={"items": items})
    assert created.status_code == 202, created.text
    assert created.headers["Location"] == "/v1/conversions"
    for job in created.json()["data"]:
        finished = wait_for_conversion(pro, job["id"], timeout=180)
        assert finished["status"] == "succeeded" and finished["progress"] == 100, finished
        output = pro.get(f"/v1/files/{finished['output_file_id']}").json()
        assert output["metadata"] == {"kind": "document", "format": "pdf", "pages": 1}, output
        assert in_order(pdf_text(_download(pro, output["id"])), WORDS)
    assert conversions_used(pro) == len(items)


def test_a_page_as_an_image_and_a_sheet_as_csv(pro: Client) -> None:
    page = _convert(pro, documents.docx(pages=2), "png", "memo.docx", page="2", width="200")
    assert page.status_code == 200, page.text
    with Image.open(io.BytesIO(page.content)) as image:
        assert image.format == "PNG" and image.width == 200 and image.height > image.width
    book = documents.xlsx({"Summary": [["first"]], "Regions": [["north", 12], ["south", 30]]})
    sheet = _convert(pro, book, "csv", "sales.xlsx", sheet="Regions")
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["Content-Type"].startswith("text/csv")
    assert sheet.content.decode().splitlines() == ["north,12", "south,30"]


def test_past_the_free_page_limit_is_413_and_uncharged(stack) -> None:
    free = Client(stack.url, new_account(stack, tier="free")["api_key"])
    response = _convert(free, documents.docx(pages=55), "pdf", "long.docx")
    message = assert_error(response, 413, "file_too_large")["error"]["message"]
    assert "50" in message, message
    assert conversions_used(free) == 0


def test_unknown_bytes_and_a_zip_bomb_are_refused_uncharged(pro: Client) -> None:
    assert_error(_convert(pro, documents.unknown_bytes(), "pdf", "report.docx"), 415, "unsupported_media_type")
    assert_error(_convert(pro, zip_bomb(), "pdf", "bomb.docx"), 422, "conversion_failed")
    assert conversions_used(pro) == 0


def test_a_failed_job_gives_its_unit_back_and_is_announced(pro: Client) -> None:
    source = upload(pro, documents.corrupt_docx(), "broken.docx")
    assert pro.post("/v1/webhooks/secret").status_code == 201
    with running_receiver() as receiver:
        hook = pro.post("/v1/webhooks", json={"url": receiver.script("/docs", [200]), "events": ["conversion.failed"]})
        assert hook.status_code == 201, hook.text
        created = pro.post("/v1/conversions", json={"file_id": source["id"], "target": "pdf"})
        assert created.status_code == 202 and created.headers["Location"] == f"/v1/conversions/{created.json()['id']}"
        finished = wait_for_conversion(pro, created.json()["id"])
        assert finished["status"] == "failed" and finished["error"]["code"] == "conversion_failed", finished
        (delivery,) = receiver.wait_for("/docs", 1, 60)
        assert json.loads(delivery.body)["data"]["id"] == finished["id"]
    assert conversions_used(pro) == 0


@pytest.fixture
def site() -> Iterator[Site]:
    s = start_site({"/minutes.docx": serve(documents.docx(), "application/octet-stream")})
    yield s
    stop_site(s)


def test_a_document_at_a_url_converts_in_one_job(pro: Client, site: Site) -> None:
    created = pro.post("/v1/conversions", json={"url": site.url("/minutes.docx"), "target": "pdf"})
    assert created.status_code == 202, created.text
    finished = wait_for_conversion(pro, created.json()["id"], timeout=180)
    assert finished["status"] == "succeeded", finished
    assert in_order(pdf_text(_download(pro, finished["output_file_id"])), WORDS)
    assert conversions_used(pro) == 1


def test_the_sdk_and_the_command_line_convert_a_report(stack, pro: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.docx"
    report.write_bytes(documents.docx())
    code, printed = run_cli(
        "convert", str(report), "--to", "pdf", "--out-dir", str(tmp_path / "out"),
        "--base-url", stack.url, "--api-key", str(pro.key),
    )  # fmt: skip
    assert code == 0, printed
    assert isinstance(printed, list) and printed[0]["ok"], printed
    assert in_order(pdf_text((tmp_path / "out" / "report.pdf").read_bytes()), WORDS)
    with FileGate(str(pro.key), stack.url) as client:
        result = client.convert(str(report), "png", output=str(tmp_path / "page.png"), width=120)
        formats = client.formats()["formats"]
    assert Image.open(tmp_path / "page.png").width == 120 and result.conversion_id.startswith("conv_")
    assert formats["docx"]["kind"] == "document" and "pdf" in formats["docx"]["to"]
