"""A conversion whose worker crashes on every attempt is retried, dead-lettered, marked failed and not
charged: never left in `processing`. Runs on its own stack with a short queue visibility timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.helpers import media_samples as media
from tests.helpers.local_api import Client, new_account
from tests.helpers.local_stack import moto_client, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_stack(
        tmp_path_factory.mktemp("crash-stack"), parameters={"ConversionsVisibilityTimeout": "1"}, workers_per_function=1
    ) as local:
        yield local


def test_a_job_that_crashes_every_time_ends_failed_via_the_dead_letter_queue(stack):
    client = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    data = media.sample("png", 32, 32)
    file = client.post("/v1/files", json={"filename": "gone.png", "size": len(data)}).json()
    upload = file["upload"]
    assert requests.post(upload["url"], data=upload["fields"], files={"file": data}, timeout=30).status_code < 300
    assert client.post(f"/v1/files/{file['id']}/complete").status_code == 200
    # The object vanishes behind the record's back: every attempt now fails with an unexpected S3 error.
    s3 = moto_client(stack, "s3")
    s3.delete_object(Bucket=stack.state["outputs"]["BucketName"], Key=upload["fields"]["key"])
    before = client.get("/v1/entitlements/me").json()["usage"]["conversions"]

    job = client.post("/v1/conversions", json={"file_id": file["id"], "target": "jpg"}).json()
    deadline = time.monotonic() + 90
    seen = set()
    while time.monotonic() < deadline:
        body = client.get(f"/v1/conversions/{job['id']}").json()
        seen.add(body["status"])
        if body["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert body["status"] == "failed", body
    assert body["error"]["code"] == "conversion_failed"
    assert "abandoned" in body["error"]["message"]
    assert "processing" in seen or "queued" in seen
    assert client.get("/v1/entitlements/me").json()["usage"]["conversions"] == before
    assert stack.invocations("WorkerFunction") >= 3  # the queue's maxReceiveCount
    # The dead-letter invocation is counted when it returns, just after its write became visible.
    deadline = time.monotonic() + 10
    while stack.invocations("WorkerDeadLetterFunction") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.invocations("WorkerDeadLetterFunction") >= 1
