"""The PDF tools through the local stack over HTTP (docs/pdf-tools.md): each tool sync and as a job, merge
both ways, compress, and the command line's `filegate merge` and `filegate compress`."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pikepdf
import pytest
import requests

from filegate_client.cli import main as cli
from tests.helpers import media_samples as media
from tests.helpers import pdf_samples as ps
from tests.helpers.local_api import Client, assert_error, new_account, upload, wait_for_conversion


@pytest.fixture
def account(stack):
    return new_account(stack, tier="pro")


@pytest.fixture
def pro(stack, account):
    return Client(stack.url, account["api_key"])


def _pages(data: bytes, password: str = "") -> int:
    with pikepdf.open(io.BytesIO(data), password=password) as pdf:
        return len(pdf.pages)


def _pdf_a_part(data: bytes) -> str | None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return pdf.open_metadata().get("pdfaid:part")


def _upload(client: Client, data: bytes, filename: str) -> str:
    completed = upload(client, data, filename)
    assert completed["metadata"] == {"kind": "document", "format": "pdf", "pages": _pages(data)} or not (
        filename.endswith(".pdf")
    )
    return str(completed["id"])


def _job_output(client: Client, body: dict) -> bytes:
    created = client.post("/v1/conversions", json=body)
    assert created.status_code == 202, created.text
    finished = wait_for_conversion(client, created.json()["id"], timeout=180)
    assert finished["status"] == "succeeded", finished
    content = client.get(f"/v1/files/{finished['output_file_id']}/content", allow_redirects=False)
    return requests.get(content.headers["Location"], timeout=30).content


@pytest.mark.parametrize(
    ("options", "check"),
    [
        ({"pages": "2"}, lambda out: _pages(out) == 1),
        ({"rotate": "90"}, lambda out: _pages(out) == 3),
        ({"pdf_a": "true"}, lambda out: _pdf_a_part(out) == "2"),
        ({"password": "pw"}, lambda out: _pages(out, "pw") == 3),
    ],
)
def test_each_tool_sync_and_as_a_job(pro, options, check):
    source = ps.text_pdf(3)
    response = pro.post("/v1/convert", files={"file": ("a.pdf", source)}, data={"target": "pdf", **options})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf" and check(response.content)
    typed = {
        k: (v == "true" if v in ("true", "false") else int(v) if v.isdigit() and k == "rotate" else v)
        for k, v in options.items()
    }
    file_id = _upload(pro, source, "a.pdf")
    assert check(_job_output(pro, {"file_id": file_id, "target": "pdf", "options": typed}))


def test_ocr_as_a_job(pro):
    file_id = _upload(pro, ps.scanned_pdf(["local", "stack", "reads", "scanned", "pages"] * 3), "scan.pdf")
    out = _job_output(pro, {"file_id": file_id, "target": "pdf", "options": {"ocr": True}})
    import pypdfium2 as pdfium

    assert "scanned" in pdfium.PdfDocument(out)[0].get_textpage().get_text_range().lower()


def test_compress_and_merge(pro):
    photos = ps.photo_pdf([media.photo(1600, 2200)])
    compressed = pro.post("/v1/compress", files={"file": ("scan.pdf", photos)})
    assert compressed.status_code == 200 and len(compressed.content) < len(photos) / 2
    files = [("file", ("a.pdf", ps.text_pdf(2))), ("file", ("b.png", media.sample("png", 200, 100)))]
    merged = pro.post("/v1/convert", files=files, data={"target": "pdf"})
    assert merged.status_code == 200, merged.text
    assert _pages(merged.content) == 3
    ids = [_upload(pro, ps.text_pdf(1), "one.pdf"), _upload(pro, ps.text_pdf(2), "two.pdf")]
    assert _pages(_job_output(pro, {"file_ids": ids, "target": "pdf"})) == 3
    assert_error(
        pro.post("/v1/convert", files={"file": ("a.pdf", ps.text_pdf(1))}, data={"target": "pdf"}),
        422,
        "invalid_parameter",
    )


def test_the_command_line_merges_and_compresses(stack, account, tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(ps.text_pdf(2))
    (tmp_path / "b.jpg").write_bytes(media.sample("jpg", 320, 240))
    (tmp_path / "big.pdf").write_bytes(ps.photo_pdf([media.photo(1600, 2200)]))
    common = ["--base-url", stack.url, "--api-key", account["api_key"], "--json"]
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(
            ["merge", str(tmp_path / "a.pdf"), str(tmp_path / "b.jpg"), "-o", str(tmp_path / "all.pdf"), *common]
        )
    assert code == 0, out.getvalue()
    assert _pages((tmp_path / "all.pdf").read_bytes()) == 3
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(["compress", str(tmp_path / "big.pdf"), *common])
    assert code == 0, out.getvalue()
    (item,) = json.loads(out.getvalue())
    assert Path(item["output"]).stat().st_size < (tmp_path / "big.pdf").stat().st_size / 2
