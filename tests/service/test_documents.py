"""Documents through the API (docs/api.md "Documents", §3 units, §4 errors): office files and text converted by the
document function's real handler (its own queue, LibreOffice warm in this process), sync and as jobs."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from filegate.conversions import sync
from tests.helpers import api_documents as documents
from tests.helpers.document_samples import encrypted_ooxml, in_order, pdf_text, zip_bomb
from tests.service.conftest import Stack
from tests.service.dashboard_client import Browser
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error, change_account


@pytest.fixture(scope="module", autouse=True)
def warm_libreoffice() -> Iterator[None]:
    """The document function's LibreOffice started before the first request (its cold start, seconds on a
    busy machine, would eat the sync budget of whichever test came first), stopped after the last."""
    from filegate.engines.document.engine import ENGINE

    ENGINE.office.start()
    yield
    ENGINE.office.stop()


@contextlib.contextmanager
def document_worker(api: ServiceApi) -> Iterator[None]:
    """The document function serving its queue while a sync request waits for it (Lambda's SQS poller)."""
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            # The request being served holds the process's environment; the worker read its settings at import.
            api.run_queue("DocumentsFunction", wait_seconds=0.2, own_environment=False)

    thread = threading.Thread(target=serve, name="documents-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("kind", sorted(documents.every_kind()))
def test_every_kind_converts_to_pdf_in_one_request(api: ServiceApi, free_account: Account, kind: str) -> None:
    filename, data = documents.every_kind()[kind]
    with document_worker(api):
        response = free_account.convert(data, "pdf", filename=filename)
    assert response.status == 200, response
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="report.pdf"'
    # Every word of the source, in order, as text of the PDF (not pictures of text).
    assert in_order(pdf_text(response.body), list(documents.WORDS)), pdf_text(response.body)
    conversion = free_account.call("GET", f"/v1/conversions/{response.headers['x-conversion-id']}").json()
    assert conversion["status"] == "succeeded" and conversion["target"] == "pdf", conversion
    assert free_account.conversions_this_month() == 1  # one unit per document conversion (§3)


def test_a_document_job_with_its_files_metadata_location_and_progress(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(documents.docx(pages=3), "board-minutes.docx")
    # Office files have no pages until converted (docs/api.md "Files").
    assert file["metadata"] == {"kind": "document", "format": "docx"}, file
    created = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "pdf"})
    assert created.status == 202, created
    job = created.json()
    assert created.headers["location"] == f"/v1/conversions/{job['id']}"
    assert job["status"] == "queued" and pro_account.conversions_this_month() == 1

    records = api.run_queue("DocumentsFunction")  # the document queue's own worker, no other
    assert any(job["id"] in r["body"] for r in records)
    finished = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert finished["status"] == "succeeded" and finished["progress"] == 100, finished
    output = pro_account.call("GET", f"/v1/files/{finished['output_file_id']}").json()
    assert output["metadata"] == {"kind": "document", "format": "pdf", "pages": 3}, output
    assert output["filename"] == "board-minutes.pdf"
    # ... and the office file has them once this conversion has counted them.
    counted = pro_account.call("GET", f"/v1/files/{file['id']}").json()
    assert counted["metadata"] == {"kind": "document", "format": "docx", "pages": 3}, counted
    assert pro_account.conversions_this_month() == 1


def test_only_a_pdf_of_the_whole_document_counts_its_pages(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(documents.docx(pages=3), "chapter.docx")
    jobs = []
    for target, options in (("pdf", {"pages": "1-2"}), ("png", {})):
        body = {"file_id": file["id"], "target": target, "options": options}
        created = pro_account.call("POST", "/v1/conversions", json_body=body)
        assert created.status == 202, created
        jobs.append(created.json()["id"])
    api.run_queue("DocumentsFunction")
    for job in jobs:
        assert pro_account.call("GET", f"/v1/conversions/{job}").json()["status"] == "succeeded"
    # Two pages of a PDF and a one-page preview are not the document's page count.
    uncounted = pro_account.call("GET", f"/v1/files/{file['id']}").json()
    assert uncounted["metadata"] == {"kind": "document", "format": "docx"}, uncounted


def test_a_page_becomes_an_image_sized_like_an_image(api: ServiceApi, free_account: Account) -> None:
    with document_worker(api):
        response = free_account.convert(documents.docx(pages=2), "png", filename="memo.docx", page="2", width="300")
    assert response.status == 200, response
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.body)) as image:
        assert image.format == "PNG" and image.width == 300 and image.height > image.width  # a portrait page


def test_csv_of_the_sheet_asked_for(api: ServiceApi, free_account: Account) -> None:
    book = documents.xlsx({"Summary": [["first", "sheet"]], "Regions": [["north", 12], ["south", 30]]})
    with document_worker(api):
        by_name = free_account.convert(book, "csv", filename="sales.xlsx", sheet="Regions")
        by_number = free_account.convert(book, "csv", filename="sales.xlsx", sheet="2")
        default = free_account.convert(book, "csv", filename="sales.xlsx")
        missing = free_account.convert(book, "csv", filename="sales.xlsx", sheet="Nowhere")
    assert by_name.status == by_number.status == default.status == 200, (by_name, by_number, default)
    assert by_name.body.decode().splitlines() == by_number.body.decode().splitlines() == ["north,12", "south,30"]
    assert default.body.decode().splitlines() == ["first,sheet"]
    assert_error(missing, 422, "invalid_parameter")
    assert "Regions" in missing.json()["error"]["message"]
    assert free_account.conversions_this_month() == 3  # the refused one is given back


def test_text_is_told_apart_by_its_name_then_by_source_format(api: ServiceApi, free_account: Account) -> None:
    rows = documents.csv([("region", "total"), ("north", 12)])
    with document_worker(api):
        as_csv = free_account.convert(rows, "xlsx", filename="export", source_format="csv")
        as_txt = free_account.convert(rows, "xlsx", filename="export")  # text without either is txt
    assert as_csv.status == 200, as_csv
    assert as_csv.body.startswith(b"PK")  # a workbook
    assert_error(as_txt, 422, "unsupported_conversion")
    assert_error(free_account.convert(rows, "pdf", filename="export", source_format="docx"), 422, "invalid_parameter")


def test_a_document_past_the_tiers_page_limit_is_413_and_uncharged(api: ServiceApi, free_account: Account) -> None:
    with document_worker(api):
        response = free_account.convert(documents.docx(pages=60), "pdf", filename="long.docx")
    body = assert_error(response, 413, "file_too_large")
    assert "60" in body["error"]["message"] and "50" in body["error"]["message"], body
    assert free_account.conversions_this_month() == 0


def test_unknown_bytes_are_415(free_account: Account) -> None:
    assert_error(
        free_account.convert(documents.unknown_bytes(), "pdf", filename="report.docx"), 415, "unsupported_media_type"
    )
    assert free_account.conversions_this_month() == 0


def test_a_zip_bomb_is_refused_before_conversion_and_uncharged(api: ServiceApi, free_account: Account) -> None:
    bomb = zip_bomb()
    assert len(bomb) * 100 < 64 * 1024 * 1024  # it unpacks to more than 100 x its size
    response = free_account.convert(bomb, "pdf", filename="bomb.docx")  # no worker: refused in the request
    assert_error(response, 422, "conversion_failed")
    assert free_account.conversions_this_month() == 0


def test_a_failed_document_job_gives_its_unit_back(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(documents.corrupt_docx(), "broken.docx")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "pdf"}).json()
    assert job["status"] == "queued" and pro_account.conversions_this_month() == 1
    api.run_queue("DocumentsFunction")
    failed = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "conversion_failed", failed
    assert pro_account.conversions_this_month() == 0


def test_past_the_sync_budget_a_document_answers_202_with_location(api: ServiceApi, pro_account: Account) -> None:
    from filegate.clock import utcnow
    from filegate.context import AuthContext

    context = api.authorizer_context("POST", "/v1/convert", key=pro_account.key, source_ip=pro_account.source_ip)
    caller = AuthContext.from_authorizer_context(context)
    assert caller is not None
    convert = api.functions.module("ConvertFunction")
    outcome = sync.convert_sync(
        caller, convert.bucket, convert.settings, data=documents.docx(), filename="late.docx", target="pdf",
        fields={}, queues=convert.queues, now=utcnow(), budget_seconds=0.0,  # no time to wait for the worker
    )  # fmt: skip
    assert isinstance(outcome, sync.ContinuedAsJob)
    assert outcome.location == f"/v1/conversions/{outcome.conversion['id']}"
    api.run_queue("DocumentsFunction")  # it goes on as a job
    done = pro_account.call("GET", outcome.location).json()
    assert done["status"] == "succeeded", done


def test_formats_list_documents_with_their_kind(api: ServiceApi) -> None:
    formats: dict[str, Any] = api.call("GET", "/v1/formats").json()["formats"]
    for name in ("docx", "doc", "odt", "rtf", "xlsx", "xls", "ods", "pptx", "ppt", "odp", "txt", "csv", "md", "html"):
        assert formats[name]["kind"] == "document", name
        assert "pdf" in formats[name]["to"], name
    assert formats["csv"]["to"][:3] == ["pdf", "xlsx", "ods"]
    assert "sheet" in formats["xlsx"]["options"] and "pages" in formats["docx"]["options"]
    assert formats["png"]["kind"] == "image" and formats["mp4"]["kind"] == "video"


def test_an_input_password_is_never_stored_nor_shown(api: ServiceApi, pro_account: Account) -> None:
    password = "correct-horse-" + pro_account.account_id[-8:]
    file = pro_account.upload(documents.docx(), "minutes.docx")
    body = {"file_id": file["id"], "target": "pdf", "options": {"input_password": password, "pages": "1"}}
    created = pro_account.call("POST", "/v1/conversions", json_body=body, headers={"Idempotency-Key": password[-8:]})
    assert created.status == 202, created
    assert password not in created.body.decode() and created.json()["options"] == {"pages": "1"}
    # Not in any table: the conversion keeps it sealed (its key only in the queue message), the idempotency
    # record never sees it.
    for variable in ("CONVERSIONS_TABLE", "IDEMPOTENCY_TABLE"):
        items = api.dynamodb.scan(TableName=_table(api, variable))["Items"]
        assert items and not [item for item in items if password in str(item)], variable
    (message,) = api.sqs.receive_message(QueueUrl=_queue_url(api, "DocumentsFunction"), VisibilityTimeout=0)["Messages"]
    assert password not in message["Body"] and '"key"' in message["Body"]

    api.run_queue("DocumentsFunction")  # the worker opens it with the message's key
    done = pro_account.call("GET", f"/v1/conversions/{created.json()['id']}")
    assert done.json()["status"] == "succeeded", done
    assert password not in done.body.decode()
    record = api.dynamodb.get_item(
        TableName=_table(api, "CONVERSIONS_TABLE"), Key={"conversion_id": {"S": done.json()["id"]}}
    )
    assert "options_sealed" not in record["Item"]  # gone with the job


def test_an_encrypted_document_opens_with_its_password_only(api: ServiceApi, free_account: Account) -> None:
    locked = encrypted_ooxml(documents.docx(), "open-sesame")
    with document_worker(api):
        without = free_account.convert(locked, "pdf", filename="locked.docx")
        wrong = free_account.convert(locked, "pdf", filename="locked.docx", input_password="guess")
        right = free_account.convert(locked, "pdf", filename="locked.docx", input_password="open-sesame")
    for refused in (without, wrong):
        body = assert_error(refused, 422, "invalid_parameter")
        assert "input_password" in body["error"]["message"] and "guess" not in refused.body.decode(), body
    assert right.status == 200, right
    assert in_order(pdf_text(right.body), list(documents.WORDS))
    assert free_account.conversions_this_month() == 1  # the refused ones are given back


def _queue_url(api: ServiceApi, function: str) -> str:
    return next(m.queue_url for m in api.model.sqs_mappings if m.function == function)


def _table(api: ServiceApi, variable: str) -> str:
    return api.functions.environments["ConvertFunction"][variable]


def test_the_dashboard_lists_a_document_conversion_and_its_download(stack: Stack) -> None:
    from tests.service.dashboard_client import api_account, create_key_on_page, session_account_id

    browser = Browser(stack.api, stack.moto_url)
    browser.sign_in()
    change_account(stack.api, session_account_id(browser), tier="pro")
    _, raw = create_key_on_page(browser, scopes=["convert:write", "files:read", "files:write"])
    client = api_account(stack.api, browser, raw)
    file = client.upload(documents.docx(), "minutes.docx")
    job = client.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "pdf"}).json()
    stack.api.run_queue("DocumentsFunction")
    page = browser.get("/dashboard/conversions").body.decode()
    assert job["id"] in page and "succeeded" in page and f"/dashboard/conversions/{job['id']}/download" in page
    download = browser.get(f"/dashboard/conversions/{job['id']}/download")
    assert download.status == 303
    assert in_order(pdf_text(requests.get(download.headers["location"], timeout=30).content), list(documents.WORDS))


def test_an_output_past_the_sync_limit_is_stored_and_answered_303(api: ServiceApi, pro_account: Account) -> None:
    from filegate.tiers import SYNC_MAX_BYTES

    # Markdown to HTML escapes every "<" of a code block as "&lt;": 1.3 MB of source, over 5 MB of page.
    source = ("```\n" + ("<" * 100 + "\n") * 13_000 + "```\n").encode()
    with document_worker(api):
        response = pro_account.convert(source, "html", filename="escaped.md")
    assert response.status == 303, response
    body = response.json()
    assert body["status"] == "succeeded" and response.headers["location"] == body["url"], body
    page = requests.get(body["url"], timeout=60).content
    assert len(page) > SYNC_MAX_BYTES and page.count(b"&lt;") == 1_300_000
