"""Conversions (docs/api.md §5 "Conversion"): sync convert, jobs run by the worker from SQS, idempotency, bulk."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from PIL import Image

from tests.helpers import media_samples as media
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error, sign_up


def _image(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return str(image.format), image.size


def test_sync_convert_of_a_small_png(api: ServiceApi, free_account: Account) -> None:
    response = free_account.convert(media.sample("png", 40, 30), "jpg", filename="holiday.png", width="20")
    assert response.status == 200, response
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"] == 'attachment; filename="holiday.jpg"'
    assert _image(response.body) == ("JPEG", (20, 15))
    conversion = free_account.call("GET", f"/v1/conversions/{response.headers['x-conversion-id']}")
    assert conversion.status == 200 and conversion.json()["status"] == "succeeded", conversion
    assert free_account.conversions_this_month() == 1
    formats = api.call("GET", "/v1/formats")  # public: no key
    assert formats.status == 200 and "jpg" in formats.json()["formats"]["png"]["to"]


def test_sync_convert_validation(free_account: Account) -> None:
    png = media.sample("png", 8, 8)
    assert_error(free_account.convert(png, "docx"), 422, "unsupported_conversion")
    assert_error(free_account.convert(png, "jpg", quality="0"), 422, "invalid_parameter")
    not_multipart = free_account.call("POST", "/v1/convert", json_body={"target": "jpg"})
    assert_error(not_multipart, 400, "invalid_request")
    assert free_account.conversions_this_month() == 0


def test_a_job_is_queued_and_run_by_the_worker(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(media.sample("jpg", 64, 48), "holiday.jpg")
    created = pro_account.call(
        "POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "webp", "options": {"width": 32}}
    )
    assert created.status == 202, created
    job = created.json()
    assert job["status"] == "queued" and job["source_file_id"] == file["id"]
    assert pro_account.conversions_this_month() == 1  # reserved when queued

    records = api.run_queue("WorkerFunction")
    assert any(job["id"] in r["body"] for r in records)
    finished = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert finished["status"] == "succeeded", finished
    assert finished["output_file_id"] and finished["completed_at"]
    content = pro_account.call("GET", f"/v1/files/{finished['output_file_id']}/content")
    assert content.status == 302, content
    assert _image(requests.get(content.headers["location"], timeout=30).content) == ("WEBP", (32, 24))
    assert pro_account.call("GET", "/v1/conversions").json()["data"][0]["id"] == job["id"]  # newest first
    assert pro_account.conversions_this_month() == 1


def test_a_failed_job_is_recorded_and_given_back(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(media.sample("png", 300, 300)[:500], "broken.png")  # sniffs as PNG, won't decode
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"}).json()
    assert pro_account.conversions_this_month() == 1
    api.run_queue("WorkerFunction")
    finished = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert finished["status"] == "failed" and finished["error"]["code"] == "conversion_failed", finished
    assert pro_account.conversions_this_month() == 0


def test_a_sharded_tier_gives_a_failed_job_back_to_the_shard_it_charged(api: ServiceApi) -> None:
    # An enterprise account's quota counters are spread over many items; each job charges a random one. A
    # refund to another item would leave the total right but that item below zero, and the charged one full.
    enterprise = sign_up(api, "enterprise")
    file = enterprise.upload(media.sample("png", 300, 300)[:500], "broken.png")  # sniffs as PNG, won't decode
    for _ in range(4):
        created = enterprise.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"})
        assert created.status == 202, created
    assert enterprise.conversions_this_month() == 4
    api.run_queue("WorkerFunction")
    jobs = enterprise.call("GET", "/v1/conversions").json()["data"]
    assert [j["status"] for j in jobs] == ["failed"] * 4, jobs
    assert enterprise.conversions_this_month() == 0
    assert all(value == 0 for value in _month_shards(enterprise).values())


def _month_shards(account: Account) -> dict[str, int]:
    from filegate.clock import month_key, utcnow
    from filegate.db import counters
    from filegate.metering import limits

    base = limits._month_counter(account.account_id, month_key(utcnow()))
    ids = [limits.shard_id(base, shard) for shard in range(limits.MAX_QUOTA_SHARDS)]
    return counters.read_many(ids, utcnow())


def test_a_dead_lettered_job_ends_failed_and_uncharged(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(media.sample("png", 8, 8), "a.png")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"}).json()
    api.run_queue("WorkerFunction")  # whatever is queued now (this job included) runs...
    queued = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "gif"}).json()
    # ...this one's message instead crashes until SQS moves it to the dead-letter queue.
    worker_queue = next(m for m in api.model.sqs_mappings if m.function == "WorkerFunction")
    dlq = next(m for m in api.model.sqs_mappings if m.function == "WorkerDeadLetterFunction")
    moved = api.sqs.receive_message(QueueUrl=worker_queue.queue_url, MaxNumberOfMessages=10)["Messages"]
    for message in moved:
        api.sqs.send_message(QueueUrl=dlq.queue_url, MessageBody=message["Body"])
        api.sqs.delete_message(QueueUrl=worker_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert any(queued["id"] in m["Body"] for m in moved)
    api.run_queue("WorkerDeadLetterFunction")
    abandoned = pro_account.call("GET", f"/v1/conversions/{queued['id']}").json()
    assert abandoned["status"] == "failed" and abandoned["error"]["code"] == "conversion_failed", abandoned
    assert pro_account.call("GET", f"/v1/conversions/{job['id']}").json()["status"] == "succeeded"
    assert pro_account.conversions_this_month() == 1  # the finished job only


def test_idempotency_key_returns_the_same_conversion_and_charges_once(pro_account: Account) -> None:
    file = pro_account.upload(media.sample("png", 16, 16), "a.png")
    key = str(uuid.uuid4())
    body = {"file_id": file["id"], "target": "jpg"}
    first = pro_account.call("POST", "/v1/conversions", json_body=body, headers={"Idempotency-Key": key})
    second = pro_account.call("POST", "/v1/conversions", json_body=body, headers={"Idempotency-Key": key})
    assert first.status == second.status == 202, (first, second)
    assert first.json()["id"] == second.json()["id"]
    assert pro_account.conversions_this_month() == 1
    other = pro_account.call(
        "POST", "/v1/conversions", json_body={**body, "target": "png"}, headers={"Idempotency-Key": key}
    )
    assert_error(other, 409, "conflict")
    fresh = pro_account.call("POST", "/v1/conversions", json_body=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert fresh.status == 202 and fresh.json()["id"] != first.json()["id"]
    assert pro_account.conversions_this_month() == 2


def test_bulk_is_for_pro_and_bounded(api: ServiceApi, pro_account: Account) -> None:
    free = sign_up(api, "free")
    assert_error(free.call("POST", "/v1/conversions/bulk", json_body={"items": []}), 403, "tier_required")
    file = pro_account.upload(media.sample("png", 8, 8), "b.png")
    items = [{"file_id": file["id"], "target": t} for t in ("jpg", "webp")]
    created = pro_account.call("POST", "/v1/conversions/bulk", json_body={"items": items})
    assert created.status == 202 and [j["target"] for j in created.json()["data"]] == ["jpg", "webp"], created
    too_many = pro_account.call("POST", "/v1/conversions/bulk", json_body={"items": [items[0]] * 101})
    assert_error(too_many, 400, "invalid_request")


def test_another_accounts_conversion_is_not_found(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(media.sample("png", 8, 8), "mine.png")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"}).json()
    stranger = sign_up(api, "pro")
    assert_error(stranger.call("GET", f"/v1/conversions/{job['id']}"), 404, "not_found")
    taken = stranger.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"})
    assert_error(taken, 404, "not_found")


def test_a_dead_lettered_media_job_ends_failed_and_uncharged(api: ServiceApi, pro_account: Account) -> None:
    from tests.helpers import av_samples

    file = pro_account.upload(av_samples.sample("wav", seconds=1.0), "tone.wav")
    assert file["metadata"]["kind"] == "audio"
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "mp3"}).json()
    assert job["status"] == "queued" and pro_account.conversions_this_month() == 1
    # Its message crashes the media worker until SQS moves it to the media dead-letter queue...
    media_queue = next(m for m in api.model.sqs_mappings if m.function == "MediaWorkerFunction")
    dlq = next(m for m in api.model.sqs_mappings if m.function == "MediaWorkerDeadLetterFunction")
    moved = api.sqs.receive_message(QueueUrl=media_queue.queue_url, MaxNumberOfMessages=10)["Messages"]
    for message in moved:
        api.sqs.send_message(QueueUrl=dlq.queue_url, MessageBody=message["Body"])
        api.sqs.delete_message(QueueUrl=media_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert any(job["id"] in m["Body"] for m in moved)
    # ...where the dead-letter handler ends it failed, never stuck, and gives the units back.
    api.run_queue("MediaWorkerDeadLetterFunction")
    abandoned = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert abandoned["status"] == "failed" and abandoned["error"]["code"] == "conversion_failed", abandoned
    assert pro_account.conversions_this_month() == 0


def _caller(account: Account) -> Any:
    from filegate.context import AuthContext

    context = account.api.authorizer_context("POST", "/v1/convert", key=account.key, source_ip=account.source_ip)
    caller = AuthContext.from_authorizer_context(context)
    assert caller is not None
    return caller


def _queues(api: ServiceApi) -> Any:
    return api.functions.module("ConvertFunction").queues


def _emf_metrics(out: str) -> list[tuple[str, str]]:
    """(metric name, kind) of each business metric line written."""
    found = []
    for line in out.splitlines():
        if line.startswith('{"_aws"'):
            body = json.loads(line)
            for directive in body["_aws"].get("CloudWatchMetrics", []):
                found.extend((m["Name"], body.get("kind", "")) for m in directive["Metrics"])
    return found


def test_a_sync_conversion_whose_output_cannot_be_stored_is_not_charged(
    api: ServiceApi, pro_account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    # An output over the sync limit is stored in S3 and answered with a 303; here the bucket is missing, so
    # storing fails after the engine succeeded. A failed conversion is never charged (docs/api.md §3), and it is
    # never counted as a success.
    from filegate.clock import utcnow
    from filegate.conversions import sync
    from filegate.files.storage import Bucket
    from filegate.tiers import SYNC_MAX_BYTES

    png = media.encode(Image.linear_gradient("L").resize((1500, 1500)).convert("RGB"), "png")
    assert len(png) < SYNC_MAX_BYTES < 1500 * 1500 * 3  # a small input, an uncompressed BMP over the limit
    capsys.readouterr()
    with pytest.raises(ClientError, match="NoSuchBucket"):
        sync.convert_sync(
            _caller(pro_account), Bucket("filegate-no-such-bucket"), api.functions.module("ConvertFunction").settings,
            data=png, filename="big.png", target="bmp", fields={}, queues=_queues(api), now=utcnow(),
        )  # fmt: skip
    assert pro_account.conversions_this_month() == 0
    metrics = _emf_metrics(capsys.readouterr().out)
    assert ("ConversionsSucceeded", "image") not in metrics, metrics
    assert ("ConversionsFailed", "image") in metrics, metrics
    assert pro_account.call("GET", "/v1/conversions").json()["data"] == []


def test_a_sync_conversion_that_goes_on_as_a_job_keeps_its_input_as_an_upload(
    api: ServiceApi, pro_account: Account
) -> None:
    from filegate.clock import utcnow
    from filegate.conversions import sync
    from filegate.files.storage import Bucket

    settings = api.functions.module("ConvertFunction").settings
    outcome = sync.convert_sync(
        _caller(pro_account), Bucket(settings.bucket), settings,
        data=media.sample("png", 64, 48), filename='../../etc/"holiday"\r\n.png', target="jpg", fields={},
        queues=_queues(api), now=utcnow(), budget_seconds=0.0,  # nothing fits: it goes on as a job at once
    )  # fmt: skip
    assert isinstance(outcome, sync.ContinuedAsJob)
    source = pro_account.call("GET", f"/v1/files/{outcome.conversion['source_file_id']}").json()
    assert source["origin"] == "upload", source
    assert source["filename"] == "_holiday_.png", source
    api.run_queue("WorkerFunction")
    finished = pro_account.call("GET", outcome.location).json()
    assert finished["status"] == "succeeded", finished
    output = pro_account.call("GET", f"/v1/files/{finished['output_file_id']}").json()
    assert output["filename"] == "_holiday_.jpg", output


def test_bulk_errors_name_the_item_and_its_option(pro_account: Account) -> None:
    from tests.helpers import av_samples

    image = pro_account.upload(media.sample("png", 8, 8), "c.png")
    sound = pro_account.upload(av_samples.sample("wav", seconds=0.5), "tone.wav")
    fine = {"file_id": image["id"], "target": "jpg"}
    cases = [
        ({"file_id": image["id"], "target": "jpg", "options": {"width": "wide"}}, "items[1].options.width"),
        ({"file_id": image["id"], "target": "jpg", "options": {"fps": 10}}, "items[1].options.fps"),
        (
            {"file_id": sound["id"], "target": "mp3", "options": {"audio_bitrate": "x"}},
            "items[1].options.audio_bitrate",
        ),
        ({"file_id": sound["id"], "target": "mp3", "options": {"page": 2}}, "items[1].options.page"),
        ({"file_id": sound["id"], "target": "mp3", "options": {"width": 10}}, "items[1].options.width"),
    ]
    for item, field in cases:
        response = pro_account.call("POST", "/v1/conversions/bulk", json_body={"items": [fine, item]})
        body = assert_error(response, 422, "invalid_parameter")
        assert body["error"]["message"].startswith(field + " "), (item, body)


def test_the_idempotency_key_limit_is_the_one_the_api_describes(api: ServiceApi, pro_account: Account) -> None:
    document = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())
    for path, letter in (("/v1/conversions", "a"), ("/v1/conversions/bulk", "b")):
        (header,) = [p for p in document["paths"][path]["post"]["parameters"] if p["name"] == "idempotency-key"]
        limit = header["schema"]["maxLength"]
        file = pro_account.upload(media.sample("png", 8, 8), "d.png")
        item = {"file_id": file["id"], "target": "jpg"}
        body = item if path == "/v1/conversions" else {"items": [item]}
        longest = pro_account.call("POST", path, json_body=body, headers={"Idempotency-Key": letter * limit})
        assert longest.status == 202, (path, limit, longest)
        too_long = pro_account.call("POST", path, json_body=body, headers={"Idempotency-Key": letter * (limit + 1)})
        assert_error(too_long, 400, "invalid_request")
