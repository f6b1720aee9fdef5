"""The PDF tools through the functions (docs/pdf-tools.md): pdf → pdf with options, compress, merge (sync and
as a job), OCR and passwords as jobs, hostile PDFs; units as §3 says."""

from __future__ import annotations

import io
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import requests
import urllib3

from tests.helpers import media_samples as media
from tests.helpers import pdf_samples as ps
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error


def _pages(data: bytes, password: str = "") -> int:
    with pikepdf.open(io.BytesIO(data), password=password) as pdf:
        return len(pdf.pages)


def _texts(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def _merge(account: Account, files: list[tuple[str, bytes]], **fields: str) -> Any:
    form: list[tuple[str, Any]] = [("file", (name, data, "application/octet-stream")) for name, data in files]
    form += list(fields.items())
    body, content_type = urllib3.encode_multipart_formdata(form)
    return account.call("POST", "/v1/convert", body=body, headers={"Content-Type": content_type})


def _output(account: Account, conversion_id: str) -> bytes:
    finished = account.call("GET", f"/v1/conversions/{conversion_id}").json()
    assert finished["status"] == "succeeded", finished
    content = account.call("GET", f"/v1/files/{finished['output_file_id']}/content")
    return requests.get(content.headers["location"], timeout=30).content


def test_pdf_to_pdf_with_options_answers_the_pdf(free_account: Account) -> None:
    response = free_account.convert(ps.text_pdf(4), "pdf", filename="report.pdf", pages="3,1", rotate="90")
    assert response.status == 200, response
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="report.pdf"'
    texts = _texts(response.body)  # turned pages: pdfium's reading order may differ, the text is there
    assert len(texts) == 2 and "page number 3" in texts[0] and "page number 1" in texts[1]
    assert free_account.conversions_this_month() == 1


def test_pdf_to_pdf_without_an_option_is_invalid_parameter_and_free(free_account: Account) -> None:
    body = assert_error(free_account.convert(ps.text_pdf(1), "pdf", filename="a.pdf"), 422, "invalid_parameter")
    assert "pages, rotate, ocr, pdf_a, password" in body["error"]["message"]
    assert_error(free_account.convert(ps.text_pdf(1), "pdf", filename="a.pdf", widht="3"), 422, "invalid_parameter")
    assert free_account.conversions_this_month() == 0


def test_compress_takes_a_pdf_and_never_grows_it(pro_account: Account) -> None:
    photos = ps.photo_pdf([media.photo(1600, 2200)])
    response = pro_account.convert(photos, None, filename="scan.pdf", quality="60", dpi="100")
    assert response.status == 200, response
    assert response.headers["content-type"] == "application/pdf" and len(response.body) < len(photos) / 3
    tiny = ps.save(pikepdf.open(io.BytesIO(ps.text_pdf(1))), object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert pro_account.convert(tiny, None, filename="tiny.pdf").body == tiny


def test_a_password_protects_the_output_and_is_never_recorded(pro_account: Account) -> None:
    response = pro_account.convert(ps.text_pdf(2), "pdf", filename="a.pdf", password="s3cret-pass")
    assert response.status == 200, response
    assert _pages(response.body, "s3cret-pass") == 2
    conversion = pro_account.call("GET", f"/v1/conversions/{response.headers['x-conversion-id']}").json()
    assert "s3cret-pass" not in str(conversion) and "password" not in conversion.get("options", {})


def test_several_files_merge_into_one_pdf_at_a_unit_each(pro_account: Account) -> None:
    response = _merge(
        pro_account,
        [("a.pdf", ps.text_pdf(2)), ("b.png", media.sample("png", 300, 200)), ("c.pdf", ps.text_pdf(1, outline=False))],
        target="pdf",
        page_size="a4",
    )
    assert response.status == 200, response
    assert response.headers["content-disposition"] == 'attachment; filename="merged.pdf"'
    with pikepdf.open(io.BytesIO(response.body)) as pdf:
        assert len(pdf.pages) == 4
        with pdf.open_outline() as outline:
            assert [item.title for item in outline.root] == ["a.pdf", "b.png", "c.pdf"]
    assert pro_account.conversions_this_month() == 3


def test_merge_mistakes_are_named(pro_account: Account) -> None:
    two = [("a.pdf", ps.text_pdf(1)), ("b.pdf", ps.text_pdf(1))]
    assert (
        "target" in assert_error(_merge(pro_account, two, target="png"), 422, "invalid_parameter")["error"]["message"]
    )
    clip = media.sample("png", 4, 4)
    assert_error(_merge(pro_account, [*two, ("c.gif", clip)], target="pdf", rotate="90"), 422, "invalid_parameter")
    assert pro_account.conversions_this_month() == 0


def test_a_merge_job_of_file_ids(api: ServiceApi, pro_account: Account) -> None:
    first = pro_account.upload(ps.text_pdf(2), "first.pdf")
    photo = pro_account.upload(media.sample("jpg", 320, 240), "photo.jpg")
    last = pro_account.upload(ps.text_pdf(1), "last.pdf")
    created = pro_account.call(
        "POST", "/v1/conversions",
        json_body={"file_ids": [first["id"], photo["id"], last["id"]], "target": "pdf", "options": {"page_size": "letter"}},
    )  # fmt: skip
    assert created.status == 202, created
    job = created.json()
    assert job["options"]["merge"] == [first["id"], photo["id"], last["id"]]
    api.run_queue("DocumentsFunction")  # the PDF tools' worker (its image has Tesseract and pikepdf)
    merged = _output(pro_account, job["id"])
    assert _pages(merged) == 4
    assert pro_account.conversions_this_month() == 3  # a unit per input


def test_merge_job_mistakes_are_named(pro_account: Account) -> None:
    first = pro_account.upload(ps.text_pdf(1), "first.pdf")
    one = pro_account.call("POST", "/v1/conversions", json_body={"file_ids": [first["id"]], "target": "pdf"})
    assert_error(one, 400, "invalid_request")
    missing = pro_account.call(
        "POST", "/v1/conversions", json_body={"file_ids": [first["id"], "file_nope"], "target": "pdf"}
    )
    assert "file_ids[1]" in assert_error(missing, 404, "not_found")["error"]["message"]
    both = pro_account.call(
        "POST", "/v1/conversions", json_body={"file_id": first["id"], "file_ids": [first["id"]] * 2, "target": "pdf"}
    )
    assert_error(both, 400, "invalid_request")
    assert pro_account.conversions_this_month() == 0


def test_ocr_and_passwords_as_a_job(api: ServiceApi, pro_account: Account) -> None:
    words = ["searchable", "words", "appear", "after", "recognition"]
    source = pro_account.upload(ps.encrypted_pdf_of(ps.scanned_pdf(words * 3), "in-pass"), "scan.pdf")
    created = pro_account.call(
        "POST", "/v1/conversions",
        json_body={"file_id": source["id"], "target": "pdf",
                   "options": {"input_password": "in-pass", "ocr": True, "password": "out-pass"}},
    )  # fmt: skip
    assert created.status == 202, created
    assert created.json()["options"] == {"ocr": True}  # the passwords are sealed, never shown
    records = api.run_queue("DocumentsFunction")
    assert records and not any("pass" in r["body"] for r in records)  # the message has only the seal's key
    output = _output(pro_account, created.json()["id"])
    text = pdfium.PdfDocument(output, password="out-pass")[0].get_textpage().get_text_range().lower()
    assert {"searchable", "recognition"} <= set(text.split())
    stored = pro_account.call("GET", f"/v1/conversions/{created.json()['id']}").json()
    assert "pass" not in str(stored)


def test_hostile_pdfs_are_defused_or_refused_and_never_charged_when_refused(pro_account: Account) -> None:
    response = pro_account.convert(ps.javascript_pdf(), "pdf", filename="js.pdf", rotate="180")
    assert response.status == 200 and b"app.alert" not in response.body and b"/JavaScript" not in response.body
    assert_error(
        pro_account.convert(ps.truncated_pdf(), "pdf", filename="t.pdf", rotate="90"), 422, "conversion_failed"
    )
    assert_error(pro_account.convert(ps.truncated_pdf(), None, filename="t.pdf"), 422, "conversion_failed")
    assert pro_account.conversions_this_month() == 1
