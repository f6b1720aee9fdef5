"""docs/api.md §5 "Webhooks" through the local stack: management API, and real deliveries to a receiver on
127.0.0.1 (tests/helpers/receiver.py) made by the dispatcher from the webhooks queue.

This module runs its own stack with the retry schedule compressed (template parameter WebhookRetryScale),
so the 5 s … 10 h schedule takes seconds; the dispatcher's 10 s timeout is real. Plain-http loopback
receivers are allowed because conftest's start_local_stack sets EGRESS_ALLOW_INSECURE_LOOPBACK in every
function's environment (the template never does).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardVerificationError

from filegate.webhooks.verify import WebhookVerificationError, verify
from tests.helpers import media_samples as media
from tests.helpers.local_api import Client, assert_error, new_account, upload
from tests.helpers.local_stack import moto_client, running_stack
from tests.helpers.receiver import Receiver, running_receiver

# Registration never connects, so public IP literals stand in for real receivers (no DNS needed offline).
PUBLIC = "https://93.184.215.14"
RETRY_SCALE = "0.0001"  # 5 s → 0.5 ms … 10 h → 3.6 s; SQS delays round each hop up to whole seconds
DELIVERY_WAIT = 60.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_stack(
        tmp_path_factory.mktemp("webhooks-stack"), parameters={"WebhookRetryScale": RETRY_SCALE}, workers_per_function=2
    ) as local:
        yield local


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def pro(stack: Any) -> Client:
    return Client(stack.url, new_account(stack, tier="pro")["api_key"])


def _secret(client: Client) -> str:
    response = client.post("/v1/webhooks/secret")
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def _register(client: Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _deliveries(client: Client, webhook_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _wait_delivery(client: Client, webhook_id: str, delivery_id: str, timeout: float = DELIVERY_WAIT) -> dict[str, Any]:
    """The delivery once it is final (succeeded or failed) in the log."""
    deadline = time.monotonic() + timeout
    while True:
        entry = next(d for d in _deliveries(client, webhook_id, limit=100)["data"] if d["id"] == delivery_id)
        if entry["status"] != "pending":
            return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery still pending after {timeout}s: {entry}")
        time.sleep(0.3)


def _test_event(client: Client, webhook_id: str) -> dict[str, Any]:
    response = client.post(f"/v1/webhooks/{webhook_id}/test")
    assert response.status_code == 202, response.text
    return dict(response.json())


def _both_verifiers(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any]:
    ours = verify(body, headers, secret)
    theirs = Webhook(secret).verify(body, headers)  # the independent Standard Webhooks implementation
    assert ours == theirs
    return ours


# ------------------------------------------------------------------ management API


def test_free_tier_gets_tier_required(stack: Any) -> None:
    free = Client(stack.url, new_account(stack, tier="free")["api_key"])
    assert_error(free.post("/v1/webhooks/secret"), 403, "tier_required")
    assert_error(free.post("/v1/webhooks", json={"url": "https://example.com/hook"}), 403, "tier_required")
    assert_error(free.get("/v1/webhooks"), 403, "tier_required")
    # A conversion's own webhook_url is a webhooks feature too, refused before anything else.
    job = {"file_id": "file_missing", "target": "png", "webhook_url": "https://example.com/hook"}
    assert_error(free.post("/v1/conversions", json=job), 403, "tier_required")


def test_secret_is_shown_once_then_only_its_prefix(pro: Client) -> None:
    first = pro.post("/v1/webhooks/secret")
    assert first.status_code == 201
    body = first.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44  # base64 of 32 bytes
    assert body["secret_prefix"] == secret[:12] and body["previous_secret_expires_at"] is None
    listing = pro.get("/v1/webhooks")
    assert listing.status_code == 200
    assert secret not in listing.text and secret[12:] not in listing.text
    assert listing.json()["signing_secret"]["secret_prefix"] == secret[:12]

    rotated = pro.post("/v1/webhooks/secret").json()
    assert rotated["secret"] != secret
    grace = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert 86_000 < (grace - datetime.now(UTC)).total_seconds() <= 86_400
    assert pro.get("/v1/webhooks").json()["signing_secret"]["previous_secret_expires_at"] == grace.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_register_list_delete(stack: Any, pro: Client) -> None:
    assert_error(pro.post("/v1/webhooks", json={"url": PUBLIC + "/a"}), 409, "conflict")  # no secret yet
    _secret(pro)
    created = _register(pro, PUBLIC + "/a", ["conversion.failed"])
    assert set(created) == {"id", "url", "events", "created_at"}
    assert created["events"] == ["conversion.failed"]
    everything = _register(pro, PUBLIC + "/b")
    assert everything["events"] == ["conversion.succeeded", "conversion.failed"]
    assert_error(pro.post("/v1/webhooks", json={"url": PUBLIC + "/a"}), 409, "conflict")

    listed = pro.get("/v1/webhooks").json()
    assert [w["id"] for w in listed["data"]] == [everything["id"], created["id"]]
    assert listed["next_cursor"] is None

    stranger = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    assert_error(stranger.delete(f"/v1/webhooks/{created['id']}"), 404, "not_found")
    assert_error(stranger.get(f"/v1/webhooks/{created['id']}/deliveries"), 404, "not_found")
    assert_error(stranger.post(f"/v1/webhooks/{created['id']}/test"), 404, "not_found")

    deleted = pro.delete(f"/v1/webhooks/{created['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(pro.delete(f"/v1/webhooks/{created['id']}"), 404, "not_found")
    assert [w["id"] for w in pro.get("/v1/webhooks").json()["data"]] == [everything["id"]]


def test_bad_bodies(pro: Client) -> None:
    _secret(pro)
    assert_error(pro.post("/v1/webhooks", json={}), 400, "invalid_request")
    assert_error(pro.post("/v1/webhooks", json={"url": 5}), 400, "invalid_request")
    extra = assert_error(pro.post("/v1/webhooks", json={"url": PUBLIC, "extra": 1}), 422, "invalid_parameter")
    assert extra["error"]["message"].startswith("extra:")  # a field the route does not take (docs/api.md §4)
    assert_error(
        pro.post("/v1/webhooks", data=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "invalid_request",
    )
    unknown = pro.post("/v1/webhooks", json={"url": PUBLIC + "/x", "events": ["file.deleted"]})
    assert_error(unknown, 422, "invalid_parameter")
    assert_error(pro.post("/v1/webhooks", json={"url": PUBLIC + "/x", "events": []}), 422, "invalid_parameter")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",  # not https
        "https://10.0.0.1/hook",  # private
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "https://[fd00:ec2::254]/",  # EC2 metadata over IPv6 (unique-local)
        "https://[fe80::1]/",  # IPv6 link-local
        "https://224.0.0.1/",  # multicast
        "https://[ff02::1]/",
        "https://240.0.0.1/",  # reserved
        "https://0.0.0.0/",
        "https://[::ffff:10.0.0.1]/",  # IPv4-mapped private
        "https://167772161/",  # 10.0.0.1 in decimal
        "https://0xa000001/",  # ... in hex
        "https://012.0.0.1/",  # ... in octal
        "https://10.1/",  # ... shortened
        "https://user:password@example.com/",
        "https://999.1.1.1/",
        "https://no-such-host.invalid/",
    ],
)
def test_registration_refuses_unsafe_urls(ssrf_client: Client, url: str) -> None:
    assert_error(ssrf_client.post("/v1/webhooks", json={"url": url}), 422, "invalid_parameter")


@pytest.fixture(scope="module")
def ssrf_client(stack: Any) -> Client:
    """One pro account with a secret for every SSRF case (pro's 600 requests/minute is plenty)."""
    client = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    _secret(client)
    return client


def test_conversion_webhook_url_is_vetted_at_request_time(pro: Client) -> None:
    job = {"file_id": "file_missing", "target": "png", "webhook_url": PUBLIC + "/hook"}
    assert_error(pro.post("/v1/conversions", json=job), 409, "conflict")  # no secret: nothing could sign it
    _secret(pro)
    assert_error(pro.post("/v1/conversions", json=job), 404, "not_found")  # the URL passes; the file does not exist
    job["webhook_url"] = "https://169.254.169.254/latest/meta-data/"
    assert_error(pro.post("/v1/conversions", json=job), 422, "invalid_parameter")
    assert_error(
        pro.post("/v1/conversions", json={**job, "webhook_url": "https://0xa9.0xfe.0xa9.0xfe:8443/"}),
        422,
        "invalid_parameter",
    )
    bulk = {"items": [{"file_id": "file_missing", "target": "png", "webhook_url": "https://[::ffff:192.168.0.1]/"}]}
    assert_error(pro.post("/v1/conversions/bulk", json=bulk), 422, "invalid_parameter")


# ------------------------------------------------------------------ deliveries


def test_test_event_is_delivered_signed_and_verifies(stack: Any, pro: Client, receiver: Receiver) -> None:
    secret = _secret(pro)
    hook = _register(pro, receiver.script("/ok", [200]))
    queued = _test_event(pro, hook["id"])
    assert queued["status"] == "pending" and queued["event"] == "webhook.test"

    (got,) = receiver.wait_for("/ok", 1, DELIVERY_WAIT)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == queued["message_id"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["webhook-signature"].startswith("v1,")
    payload = _both_verifiers(got.body, got.headers, secret)
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "webhook.test" and payload["data"]["webhook_id"] == hook["id"]

    # What receivers must reject: a tampered body, a stale timestamp, another secret.
    tampered = got.body.replace(b"webhook.test", b"webhook.tset")
    with pytest.raises(WebhookVerificationError):
        verify(tampered, got.headers, secret)
    with pytest.raises(StandardVerificationError):
        Webhook(secret).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(got.body, got.headers, secret, now=int(got.headers["webhook-timestamp"]) + 301)
    with pytest.raises(WebhookVerificationError):
        verify(got.body, got.headers, _secret(Client(stack.url, new_account(stack, tier="pro")["api_key"])))

    entry = _wait_delivery(pro, hook["id"], queued["id"])
    assert entry["status"] == "succeeded" and entry["attempt_count"] == 1
    (attempt,) = entry["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["latency_ms"] >= 0
    assert entry["next_attempt_at"] is None and entry["completed_at"]


def test_retry_after_500_keeps_the_webhook_id(pro: Client, receiver: Receiver) -> None:
    secret = _secret(pro)
    hook = _register(pro, receiver.script("/flaky", [500, 200]))
    queued = _test_event(pro, hook["id"])
    first, second = receiver.wait_for("/flaky", 2, DELIVERY_WAIT)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == queued["message_id"]
    assert first.body == second.body  # the same message, re-signed
    _both_verifiers(first.body, first.headers, secret)
    _both_verifiers(second.body, second.headers, secret)
    assert second.at > first.at

    entry = _wait_delivery(pro, hook["id"], queued["id"])
    assert entry["status"] == "succeeded" and entry["attempt_count"] == 2
    assert [a["status_code"] for a in entry["attempts"]] == [500, 200]
    assert entry["attempts"][0]["error"] == "http_status: 500"


def test_timeout_is_a_failed_attempt_then_retried(pro: Client, receiver: Receiver) -> None:
    _secret(pro)
    hook = _register(pro, receiver.script("/slow", ["slow", 200]))
    queued = _test_event(pro, hook["id"])
    entry = _wait_delivery(pro, hook["id"], queued["id"], timeout=DELIVERY_WAIT)
    first, second = entry["attempts"]
    assert first["status_code"] is None and first["error"].startswith("timeout")
    assert 9_500 <= first["latency_ms"] <= 12_000  # the 10 s budget, not the receiver's 15 s
    assert second["status_code"] == 200 and entry["status"] == "succeeded"


def test_redirects_are_not_followed(pro: Client, receiver: Receiver) -> None:
    _secret(pro)
    hook = _register(pro, receiver.script("/moved", ["redirect", 200]))
    queued = _test_event(pro, hook["id"])
    entry = _wait_delivery(pro, hook["id"], queued["id"])
    first, second = entry["attempts"]
    assert first["status_code"] == 302 and first["error"].startswith("redirect")
    assert second["status_code"] == 200
    assert receiver.requests_to("/redirected") == []
    assert len(receiver.requests_to("/moved")) == 2


def test_rotation_signs_with_both_secrets(pro: Client, receiver: Receiver) -> None:
    old = _secret(pro)
    hook = _register(pro, receiver.script("/rotated", [200]))
    new = _secret(pro)
    _test_event(pro, hook["id"])
    (got,) = receiver.wait_for("/rotated", 1, DELIVERY_WAIT)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    _both_verifiers(got.body, got.headers, old)  # receivers still on the old secret keep working
    _both_verifiers(got.body, got.headers, new)


def test_dead_lettered_after_the_last_attempt(stack: Any, pro: Client, receiver: Receiver) -> None:
    secret = _secret(pro)
    hook = _register(pro, receiver.script("/down", [503]))
    queued = _test_event(pro, hook["id"])
    received = receiver.wait_for("/down", 8, 90)
    entry = _wait_delivery(pro, hook["id"], queued["id"], timeout=30)
    assert entry["status"] == "failed" and entry["dead_lettered"] is True
    assert entry["attempt_count"] == 8 and [a["attempt"] for a in entry["attempts"]] == list(range(1, 9))
    assert all(a["status_code"] == 503 for a in entry["attempts"])
    assert entry["next_attempt_at"] is None
    assert {r.headers["webhook-id"] for r in received} == {queued["message_id"]}
    for request in received:
        _both_verifiers(request.body, request.headers, secret)
    # The waits grow with the (compressed) schedule.
    gaps = [b.at - a.at for a, b in itertools.pairwise(received)]
    assert gaps[-1] > gaps[0]
    time.sleep(2)
    assert len(receiver.requests_to("/down")) == 8  # nothing after the last attempt

    sqs = moto_client(stack, "sqs")
    dlq = stack.state["outputs"]["WebhooksDeadLetterQueueUrl"]
    found: list[dict[str, Any]] = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        found += [json.loads(m["Body"]) for m in messages]
        if any(f["delivery_id"] == queued["id"] for f in found):
            break
    dead = next(f for f in found if f["delivery_id"] == queued["id"])
    assert dead["attempts"] == 8 and dead["last_error"] == "http_status: 503"


def test_deliveries_are_paginated(pro: Client, receiver: Receiver) -> None:
    _secret(pro)
    hook = _register(pro, receiver.script("/paged", [200]))
    ids = [_test_event(pro, hook["id"])["id"] for _ in range(3)]
    first = _deliveries(pro, hook["id"], limit=2)
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = _deliveries(pro, hook["id"], limit=2, cursor=first["next_cursor"])
    assert len(second["data"]) == 1 and second["next_cursor"] is None
    assert {d["id"] for d in first["data"] + second["data"]} == set(ids)
    assert_error(pro.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"cursor": "bogus"}), 400, "invalid_request")


def test_deleted_endpoint_gets_nothing_more(pro: Client, receiver: Receiver) -> None:
    _secret(pro)
    hook = _register(pro, receiver.script("/gone", [500]))
    _test_event(pro, hook["id"])
    receiver.wait_for("/gone", 1, DELIVERY_WAIT)
    assert pro.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    time.sleep(4)  # the next two retries come due in this window
    assert len(receiver.requests_to("/gone")) <= 2  # at most one attempt was already in flight


def test_a_poison_message_fails_alone(stack: Any, pro: Client, receiver: Receiver) -> None:
    """Partial batch failure: a message the dispatcher cannot handle is reported back on its own (and stays
    on the queue for its redrive to the DLQ) while the deliveries around it go out."""
    sqs = moto_client(stack, "sqs")
    queue = stack.state["outputs"]["WebhooksQueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody='{"not": "an attempt"}')
    _secret(pro)
    hook = _register(pro, receiver.script("/beside-poison", [200]))
    queued = [_test_event(pro, hook["id"]) for _ in range(3)]
    receiver.wait_for("/beside-poison", 3, DELIVERY_WAIT)
    for delivery in queued:
        assert _wait_delivery(pro, hook["id"], delivery["id"])["status"] == "succeeded"
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) >= 1  # not acknowledged


# ------------------------------------------------------------------ conversion events


def test_async_conversion_events_reach_subscribers_and_the_conversion_url(pro: Client, receiver: Receiver) -> None:
    secret = _secret(pro)
    _register(pro, receiver.script("/succeeded-only", [200]), ["conversion.succeeded"])
    _register(pro, receiver.script("/failed-only", [200]), ["conversion.failed"])
    own_url = receiver.script(f"/per-request/{uuid.uuid4().hex}", [200])

    good = upload(pro, media.sample("png", 64, 48), "good.png")["id"]
    job = pro.post("/v1/conversions", json={"file_id": good, "target": "webp", "webhook_url": own_url})
    assert job.status_code == 202, job.text
    conversion_id = job.json()["id"]

    (subscribed,) = receiver.wait_for("/succeeded-only", 1, DELIVERY_WAIT)
    (own,) = receiver.wait_for(own_url.split(str(receiver.port))[1], 1, DELIVERY_WAIT)
    for got in (subscribed, own):
        event = _both_verifiers(got.body, got.headers, secret)
        assert event["type"] == "conversion.succeeded"
        assert event["data"]["id"] == conversion_id and event["data"]["status"] == "succeeded"
        assert event["data"]["output_file_id"]
    assert subscribed.headers["webhook-id"] != own.headers["webhook-id"]  # one message per destination

    broken = upload(pro, media.sample("png", 300, 300)[:500], "broken.png")["id"]  # sniffs as PNG, cannot decode
    failed_job = pro.post("/v1/conversions", json={"file_id": broken, "target": "jpg"})
    assert failed_job.status_code == 202
    (failure,) = receiver.wait_for("/failed-only", 1, DELIVERY_WAIT)
    event = _both_verifiers(failure.body, failure.headers, secret)
    assert event["type"] == "conversion.failed"
    assert event["data"]["id"] == failed_job.json()["id"]
    assert event["data"]["error"]["code"] == "conversion_failed"
    time.sleep(1)
    assert len(receiver.requests_to("/succeeded-only")) == 1  # each event once, to its subscribers only


def test_sync_conversion_is_announced_to_subscribers(pro: Client, receiver: Receiver) -> None:
    secret = _secret(pro)
    _register(pro, receiver.script("/sync", [200]), ["conversion.succeeded"])
    response = pro.post("/v1/convert", files={"file": ("a.png", media.sample("png", 32, 32))}, data={"target": "jpg"})
    assert response.status_code == 200, response.text
    (got,) = receiver.wait_for("/sync", 1, DELIVERY_WAIT)
    event = _both_verifiers(got.body, got.headers, secret)
    assert event["data"]["id"] == response.headers["X-Conversion-Id"] and event["data"]["mode"] == "sync"
