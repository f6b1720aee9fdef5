"""Import from a URL (docs/api.md "Files" → "Import from a URL"): the files and convert functions' requests, the
import worker off its queue, the conversion worker after it. Every URL is a server on 127.0.0.1 started here
(the local-only loopback switch is on, as on the local stack); nothing is charged on any failure."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.helpers import av_samples
from tests.helpers import media_samples as media
from tests.helpers.egress_servers import Site, redirect, reply, serve, start_site, stop_site
from tests.service.conftest import Stack
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error

PNG = media.sample("png", 40, 30)
HTML = b"<!DOCTYPE html>\n<html><head><title>Shared file</title></head><body>Download</body></html>"
LINK_TOKEN = "Bearer link-t0ken-9f3a"


def _needs_token(site_token: str) -> Any:
    def route(handler: Any) -> None:
        if handler.headers.get("Authorization") != site_token:
            reply(handler, 403, b"forbidden")
            return
        reply(handler, 200, PNG, {"Content-Type": "image/png"})

    return route


@pytest.fixture
def other() -> Iterator[Site]:
    site = start_site({"/needs-token": _needs_token(LINK_TOKEN), "/photo.png": serve(PNG, "image/png")})
    yield site
    stop_site(site)


@pytest.fixture
def site(other: Site) -> Iterator[Site]:
    routes = {
        "/photo.png": serve(PNG, "image/png"),
        "/page": serve(HTML, "text/html"),
        "/private.png": _needs_token(LINK_TOKEN),
        "/elsewhere": redirect(other.url("/needs-token")),
        "/hop-6": serve(PNG),
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        **{f"/hop-{n}": redirect(f"/hop-{n + 1}") for n in range(6)},
    }
    s = start_site(routes)
    yield s
    stop_site(s)


def import_url(account: Account, url: str, **body: Any) -> dict[str, Any]:
    response = account.call("POST", "/v1/files/import", json_body={"url": url, **body})
    assert response.status == 202, response
    file: dict[str, Any] = response.json()
    assert file["status"] == "importing" and response.headers["location"] == f"/v1/files/{file['id']}"
    return file


def finished(api: ServiceApi, account: Account, file_id: str) -> dict[str, Any]:
    api.run_queue("ImportFunction")
    response = account.call("GET", f"/v1/files/{file_id}")
    assert response.status == 200, response
    file: dict[str, Any] = response.json()
    return file


def stored_item(stack: Stack, file_id: str) -> dict[str, Any]:
    """The file's raw item in DynamoDB, read past our data layer."""
    table = stack.functions.module("ImportFunction").settings.files_table
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=stack.template.region)
    found = dynamodb.get_item(TableName=table, Key={"file_id": {"S": file_id}}, ConsistentRead=True)
    item: dict[str, Any] = found["Item"]
    return item


def test_a_png_is_imported_like_an_upload(api: ServiceApi, free_account: Account, site: Site) -> None:
    file = import_url(free_account, site.url("/photo.png"))
    assert file["filename"] == "photo.png" and file["origin"] == "import"
    ready = finished(api, free_account, file["id"])
    assert ready["status"] == "ready", ready
    assert (ready["format"], ready["size"], ready["error"]) == ("png", len(PNG), None)
    assert ready["metadata"] == {"kind": "image", "format": "png", "width": 40, "height": 30}
    content = free_account.call("GET", f"/v1/files/{file['id']}/content")
    assert content.status == 302
    assert site.seen[0].headers["accept-encoding"] == "identity"


def test_a_short_mp4_is_imported_with_its_metadata(api: ServiceApi, pro_account: Account) -> None:
    clip = av_samples.sample("mp4", 1.0)
    video = start_site({"/clip.mp4": serve(clip, "video/mp4")})
    try:
        file = import_url(pro_account, video.url("/clip.mp4"))
        ready = finished(api, pro_account, file["id"])
    finally:
        stop_site(video)
    assert ready["status"] == "ready" and ready["format"] == "mp4" and ready["size"] == len(clip), ready
    assert ready["metadata"]["kind"] == "video" and ready["metadata"]["duration"] > 0.5


def test_a_large_file_is_streamed_in_parts(
    api: ServiceApi, stack: Stack, pro_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = api.functions.module("ImportFunction")
    monkeypatch.setattr(worker, "settings", dataclasses.replace(worker.settings, import_part_mb=5))  # S3's least
    big = PNG + bytes(6 * 1024 * 1024)  # two parts: a multipart upload
    source = start_site({"/big.png": serve(big, "image/png")})
    try:
        file = import_url(pro_account, source.url("/big.png"))
        ready = finished(api, pro_account, file["id"])
    finally:
        stop_site(source)
    assert ready["status"] == "ready" and ready["size"] == len(big), ready
    item = stored_item(stack, file["id"])
    bucket = stack.functions.module("ImportFunction").settings.bucket
    stored = stack.s3.get_object(Bucket=bucket, Key=item["object_key"]["S"])
    assert stored["Body"].read() == big
    assert stored["ETag"].strip('"').endswith("-2")  # S3's mark of a two-part multipart upload


def test_a_download_cut_after_its_first_part_leaves_no_upload_behind(
    api: ServiceApi, stack: Stack, pro_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stall_after_a_part(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(PNG + bytes(6 * 1024 * 1024))  # one 5 MB part is uploaded
        handler.wfile.flush()
        stalled.release.wait(10)

    worker = api.functions.module("ImportFunction")
    monkeypatch.setattr(
        worker, "settings", dataclasses.replace(worker.settings, import_part_mb=5, import_wall_seconds=3.0)
    )
    stalled = start_site({"/stall.png": stall_after_a_part})
    try:
        file = finished(api, pro_account, import_url(pro_account, stalled.url("/stall.png"))["id"])
    finally:
        stop_site(stalled)
    assert file["status"] == "failed" and file["error"]["code"] == "import_failed", file
    item = stored_item(stack, file["id"])
    bucket = worker.settings.bucket
    uploads = stack.s3.list_multipart_uploads(Bucket=bucket, Prefix=item["object_key"]["S"]).get("Uploads", [])
    assert uploads == []  # aborted, not left to the lifecycle rule
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=bucket, Prefix=item["object_key"]["S"])


def test_an_html_page_fails_saying_so(api: ServiceApi, free_account: Account, site: Site) -> None:
    file = finished(api, free_account, import_url(free_account, site.url("/page"))["id"])
    assert file["status"] == "failed"
    assert file["error"]["code"] == "unsupported_media_type" and "HTML page" in file["error"]["message"]


def test_six_redirects_fail_five_pass(api: ServiceApi, free_account: Account, site: Site) -> None:
    six = finished(api, free_account, import_url(free_account, site.url("/hop-0"))["id"])
    assert six["status"] == "failed" and six["error"] == {"code": "import_failed", "message": "more than 5 redirects"}
    five = finished(api, free_account, import_url(free_account, site.url("/hop-1"))["id"])
    assert five["status"] == "ready", five


def test_a_private_header_reaches_its_origin_only(
    api: ServiceApi, stack: Stack, free_account: Account, site: Site, other: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    private = import_url(free_account, site.url("/private.png"), headers={"Authorization": LINK_TOKEN})
    assert finished(api, free_account, private["id"])["status"] == "ready"
    # Sealed on the record until the import ends; gone from it afterwards, and never in the answer or a log.
    assert "import_sealed" not in stored_item(stack, private["id"])

    moved = import_url(free_account, site.url("/elsewhere"), headers={"Authorization": LINK_TOKEN})
    failed = finished(api, free_account, moved["id"])
    assert failed["error"] == {"code": "import_failed", "message": "the server answered HTTP 403"}
    assert [s.headers.get("authorization") for s in site.seen] == [LINK_TOKEN, LINK_TOKEN]
    assert other.seen and all("authorization" not in s.headers for s in other.seen)
    assert "link-t0ken" not in capsys.readouterr().out + json.dumps(failed)

    without = finished(api, free_account, import_url(free_account, site.url("/private.png"))["id"])
    assert without["error"]["code"] == "import_failed"


def test_a_slow_drip_is_cut_at_the_wall_clock(
    api: ServiceApi, free_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def drip(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(PNG[:16])
        while not slow.release.wait(0.2):
            handler.wfile.write(b"\0")
            handler.wfile.flush()

    slow = start_site({"/drip.png": drip})
    worker = api.functions.module("ImportFunction")
    monkeypatch.setattr(worker, "settings", dataclasses.replace(worker.settings, import_wall_seconds=1.5))
    try:
        file = finished(api, free_account, import_url(free_account, slow.url("/drip.png"))["id"])
    finally:
        stop_site(slow)
    assert file["error"]["code"] == "import_failed" and "within 1.5 s" in file["error"]["message"], file


def test_a_lying_content_length_is_capped_on_the_bytes_received(
    api: ServiceApi, free_account: Account, site: Site
) -> None:
    test_key = free_account.create_key(mode="test", scopes=["files:read", "files:write"])["api_key"]
    sandbox = free_account.with_key(test_key)  # fg_test_ keys: 1 MB inputs
    site.routes["/lies.png"] = lambda h: reply(h, 200, PNG + bytes(1536 * 1024), {"Content-Length": str(len(PNG))})
    file = finished(api, sandbox, import_url(sandbox, site.url("/lies.png"))["id"])
    assert file["status"] == "failed" and file["error"]["code"] == "file_too_large", file


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"url": "https://169.254.169.254/latest/meta-data/"}, "url"),
        ({"url": "http://10.0.0.1:8080/x"}, "url"),
        ({"url": "https://[::ffff:10.0.0.1]/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://user:pw@127.0.0.1:9000/x"}, "url"),
        ({"url": "http://127.0.0.1:9000/x", "headers": {"X-A": "v\r\nX-B: 1"}}, "headers"),
        ({"url": "http://127.0.0.1:9000/x", "headers": {"Host": "other"}}, "headers"),
    ],
)
def test_refused_at_request_time(free_account: Account, body: dict[str, Any], names: str) -> None:
    refused = free_account.call("POST", "/v1/files/import", json_body=body)
    assert_error(refused, 422, "invalid_parameter")
    assert refused.json()["error"]["message"].startswith(names)


def _register_file_events(account: Account) -> str:
    assert account.call("POST", "/v1/webhooks/secret").status == 201
    created = account.call(
        "POST",
        "/v1/webhooks",
        json_body={"url": "http://127.0.0.1:9099/hook", "events": ["file.imported", "file.import_failed"]},
    )
    assert created.status == 201, created
    return str(created.json()["id"])


def test_file_events_are_emitted(api: ServiceApi, pro_account: Account, site: Site) -> None:
    webhook = _register_file_events(pro_account)
    good = finished(api, pro_account, import_url(pro_account, site.url("/photo.png"))["id"])
    bad = finished(api, pro_account, import_url(pro_account, site.url("/page"))["id"])
    deliveries = pro_account.call("GET", f"/v1/webhooks/{webhook}/deliveries").json()["data"]
    assert sorted(d["event"] for d in deliveries) == ["file.import_failed", "file.imported"]
    assert {good["status"], bad["status"]} == {"ready", "failed"}


# ------------------------------------------------------------------ POST /v1/conversions with a url


def convert_url(account: Account, url: str, target: str = "webp", **body: Any) -> dict[str, Any]:
    response = account.call("POST", "/v1/conversions", json_body={"url": url, "target": target, **body})
    assert response.status == 202, response
    conversion: dict[str, Any] = response.json()
    assert conversion["status"] == "queued" and conversion["source_file_id"]
    return conversion


def test_a_url_is_imported_then_converted_for_one_charge(api: ServiceApi, free_account: Account, site: Site) -> None:
    conversion = convert_url(free_account, site.url("/private.png"), headers={"Authorization": LINK_TOKEN})
    assert free_account.conversions_this_month() == 1  # reserved at the request, like any job
    api.run_queue("ImportFunction")
    api.run_queue("WorkerFunction")
    done = free_account.call("GET", f"/v1/conversions/{conversion['id']}").json()
    assert done["status"] == "succeeded" and done["target"] == "webp", done
    assert free_account.conversions_this_month() == 1
    source = free_account.call("GET", f"/v1/files/{conversion['source_file_id']}").json()
    assert source["status"] == "ready" and source["format"] == "png"


@pytest.mark.parametrize(
    ("path", "target", "code"),
    [
        ("/page", "webp", "unsupported_media_type"),
        ("/hop-0", "webp", "import_failed"),
        ("/to-metadata", "webp", "import_refused"),  # checked again at each hop, in the worker
        ("/missing.png", "webp", "import_failed"),
        ("/photo.png", "mp3", "unsupported_conversion"),  # a PNG cannot become audio: known once imported
    ],
)
def test_a_failed_import_or_plan_fails_the_conversion_uncharged(
    api: ServiceApi, free_account: Account, site: Site, path: str, target: str, code: str
) -> None:
    conversion = convert_url(free_account, site.url(path), target)
    api.run_queue("ImportFunction")
    failed = free_account.call("GET", f"/v1/conversions/{conversion['id']}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == code, failed
    assert free_account.conversions_this_month() == 0


def test_conversion_url_refused_at_request_time_is_not_charged(free_account: Account) -> None:
    refused = free_account.call(
        "POST", "/v1/conversions", json_body={"url": "https://169.254.169.254/x", "target": "webp"}
    )
    assert_error(refused, 422, "invalid_parameter")
    both = free_account.call(
        "POST", "/v1/conversions", json_body={"url": "https://example.com/x", "file_id": "file_1", "target": "webp"}
    )
    assert_error(both, 400, "invalid_request")
    assert free_account.conversions_this_month() == 0


def test_a_dead_lettered_import_ends_failed_and_uncharged(api: ServiceApi, free_account: Account, site: Site) -> None:
    conversion = convert_url(free_account, site.url("/photo.png"))
    imports_queue = next(m for m in api.model.sqs_mappings if m.function == "ImportFunction").queue_url
    dead_letters = next(m for m in api.model.sqs_mappings if m.function == "ImportDeadLetterFunction").queue_url
    # What SQS does after maxReceiveCount crashes: the message moves to the dead-letter queue as it was.
    (message,) = api.sqs.receive_message(QueueUrl=imports_queue, MaxNumberOfMessages=1)["Messages"]
    api.sqs.send_message(QueueUrl=dead_letters, MessageBody=message["Body"])
    api.sqs.delete_message(QueueUrl=imports_queue, ReceiptHandle=message["ReceiptHandle"])
    api.run_queue("ImportDeadLetterFunction")
    file = free_account.call("GET", f"/v1/files/{conversion['source_file_id']}").json()
    assert file["status"] == "failed" and file["error"]["message"] == "The import failed repeatedly and was abandoned."
    failed = free_account.call("GET", f"/v1/conversions/{conversion['id']}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "import_failed"
    assert free_account.conversions_this_month() == 0
    assert site.seen == []


def test_an_importing_file_has_no_content_yet(free_account: Account, site: Site) -> None:
    file = import_url(free_account, site.url("/photo.png"))
    assert_error(free_account.call("GET", f"/v1/files/{file['id']}/content"), 409, "conflict")


def test_a_retried_url_conversion_is_one_job_and_its_headers_are_not_remembered(
    api: ServiceApi, stack: Stack, free_account: Account, site: Site
) -> None:
    body = {"url": site.url("/private.png"), "headers": {"Authorization": LINK_TOKEN}, "target": "webp"}
    key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
    first = free_account.call("POST", "/v1/conversions", json_body=body, headers=key)
    again = free_account.call("POST", "/v1/conversions", json_body=body, headers=key)
    assert first.status == again.status == 202 and first.json()["id"] == again.json()["id"], (first, again)
    assert free_account.conversions_this_month() == 1
    table = stack.functions.module("ConvertFunction").settings.idempotency_table
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=stack.template.region)
    remembered = json.dumps(dynamodb.scan(TableName=table)["Items"])
    assert first.json()["id"] in remembered and "link-t0ken" not in remembered
    api.run_queue("ImportFunction")
    api.run_queue("WorkerFunction")
    done = free_account.call("GET", f"/v1/conversions/{first.json()['id']}").json()
    assert done["status"] == "succeeded", done
