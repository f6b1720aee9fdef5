"""The SDK's merge and PDF compress (docs/pdf-tools.md), no network: what goes on the wire."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from filegate_client import FileGate
from filegate_client.cli import build_parser

BASE = "https://api.example.test/v1stage"
PDF = b"%PDF-1.7\n" + b"x" * 100


def _client(handler, **kwargs) -> FileGate:
    return FileGate("fg_live_x", BASE, transport=httpx.MockTransport(handler), sleep=lambda s: None, **kwargs)


def test_merge_sends_every_file_in_one_request_in_order(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="merged.pdf"'}
        return httpx.Response(200, content=b"%PDF merged", headers={**headers, "X-Conversion-Id": "conv_1"})

    (tmp_path / "a.pdf").write_bytes(PDF)
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff" + b"j" * 50)
    out = tmp_path / "all.pdf"
    result = _client(handler).merge([tmp_path / "a.pdf", tmp_path / "b.jpg"], output=out, page_size="a4")
    assert out.read_bytes() == b"%PDF merged" and result.mode == "sync" and result.conversion_id == "conv_1"
    [request] = seen
    assert request.url.path.endswith("/v1/convert")
    body = request.content
    assert body.index(b'filename="a.pdf"') < body.index(b'filename="b.jpg"')
    assert body.count(b'name="file"') == 2 and b'name="target"\r\n\r\npdf' in body and b"a4" in body


def test_a_large_merge_uploads_each_file_and_runs_a_job_of_file_ids(tmp_path: Path) -> None:
    created: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/v1/files"):
            number = len([c for c in created if "filename" in c]) + 1
            created.append(json.loads(request.content))
            return httpx.Response(
                201, json={"id": f"file_{number}", "upload": {"url": "https://s3.test/up", "fields": {}}}
            )
        if request.url.host == "s3.test" and request.method == "POST":
            return httpx.Response(204)
        if path.endswith("/complete"):
            return httpx.Response(200, json={"id": path.split("/")[-2], "status": "ready"})
        if path.endswith("/v1/conversions") and request.method == "POST":
            created.append(json.loads(request.content))
            return httpx.Response(202, json={"id": "conv_9", "status": "queued"})
        if path.endswith("/v1/conversions/conv_9"):
            return httpx.Response(200, json={"id": "conv_9", "status": "succeeded", "output_file_id": "file_out"})
        if path.endswith("/v1/files/file_out/content"):
            return httpx.Response(302, headers={"Location": "https://s3.test/out"})
        if request.url.host == "s3.test" and path == "/out":
            return httpx.Response(200, content=b"%PDF job")
        raise AssertionError(f"unexpected {request.method} {request.url}")

    sources = [PDF * 3, PDF * 3, PDF * 3]
    result = _client(handler, sync_max_bytes=500).merge(sources, password="pw")
    job = created[-1]
    assert job["file_ids"] == ["file_1", "file_2", "file_3"] and job["target"] == "pdf"
    assert job["options"] == {"password": "pw"} and "file_id" not in job
    assert result.mode == "async" and result.content == b"%PDF job"


def test_compress_sends_the_pdf_options(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"%PDF small", headers={"Content-Type": "application/pdf"})

    _client(handler).compress(PDF, quality=60, dpi=100, filename="big.pdf")
    body = seen[0].content
    assert seen[0].url.path.endswith("/v1/compress")
    assert b'name="dpi"\r\n\r\n100' in body and b'name="quality"\r\n\r\n60' in body


def test_the_command_line_has_merge_and_pdf_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["merge", "a.pdf", "b.docx", "c.jpg", "-o", "all.pdf", "--page-size", "letter"])
    assert (args.inputs, args.output, args.page_size) == (["a.pdf", "b.docx", "c.jpg"], "all.pdf", "letter")
    args = parser.parse_args(["compress", "big.pdf", "--dpi", "120", "--password", "pw"])
    assert (args.dpi, args.password) == (120, "pw")
    args = parser.parse_args(["convert", "a.pdf", "--to", "pdf", "--pages", "3,1-2", "--rotate", "90", "--ocr"])
    assert (args.pages, args.rotate, args.ocr) == ("3,1-2", 90, True)
