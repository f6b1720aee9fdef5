"""Webhooks (docs/api.md §5 "Webhooks"): pro only, SSRF refusal at registration, signed deliveries by the
dispatcher from its SQS queue to a real receiver on 127.0.0.1 (the local-only loopback switch is on)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from standardwebhooks.webhooks import Webhook

from tests.helpers import media_samples as media
from tests.helpers.receiver import Receiver, running_receiver
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _secret(account: Account) -> str:
    created = account.call("POST", "/v1/webhooks/secret")
    assert created.status == 201, created
    secret: str = created.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


def test_webhooks_are_for_pro(free_account: Account) -> None:
    assert_error(free_account.call("POST", "/v1/webhooks/secret"), 403, "tier_required")
    register = free_account.call("POST", "/v1/webhooks", json_body={"url": "https://example.com/hook"})
    assert_error(register, 403, "tier_required")
    assert_error(free_account.call("GET", "/v1/webhooks"), 403, "tier_required")


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # instance metadata (link-local)
        "https://10.1.2.3/hook",  # private
        "https://[fd00::1]/hook",  # private IPv6
        "https://224.0.0.1/hook",  # multicast
        "https://0x7f000001.0.0.0/hook",  # not a host name at all
        "ftp://example.com/hook",  # not http(s)
    ],
)
def test_registration_refuses_what_could_reach_inside(pro_account: Account, url: str) -> None:
    _secret(pro_account)
    body = assert_error(pro_account.call("POST", "/v1/webhooks", json_body={"url": url}), 422, "invalid_parameter")
    assert "url" in body["error"]["message"].lower()
    assert pro_account.call("GET", "/v1/webhooks").json()["data"] == []


def test_test_event_is_signed_and_delivered_by_the_dispatcher(
    api: ServiceApi, pro_account: Account, receiver: Receiver
) -> None:
    secret = _secret(pro_account)
    url = receiver.script("/hook", [200])
    registered = pro_account.call("POST", "/v1/webhooks", json_body={"url": url})
    assert registered.status == 201, registered
    webhook = registered.json()
    assert set(webhook) >= {"id", "url", "events", "created_at"} and webhook["url"] == url
    assert webhook["events"] == ["conversion.succeeded", "conversion.failed"]
    assert_error(pro_account.call("POST", "/v1/webhooks", json_body={"url": url}), 409, "conflict")

    queued = pro_account.call("POST", f"/v1/webhooks/{webhook['id']}/test")
    assert queued.status == 202, queued
    api.run_queue("DispatcherFunction")
    (arrived,) = receiver.wait_for("/hook", 1, timeout=10)
    payload = Webhook(secret).verify(arrived.body, arrived.headers)  # an independent Standard Webhooks check
    assert payload["type"] == "webhook.test"
    assert arrived.headers["webhook-id"] and arrived.headers["webhook-signature"].startswith("v1,")

    log = pro_account.call("GET", f"/v1/webhooks/{webhook['id']}/deliveries")
    assert log.status == 200, log
    (delivery,) = log.json()["data"]
    assert delivery["status"] == "succeeded" and delivery["last_status_code"] == 200, delivery
    assert pro_account.call("DELETE", f"/v1/webhooks/{webhook['id']}").status == 204
    assert_error(pro_account.call("DELETE", f"/v1/webhooks/{webhook['id']}"), 404, "not_found")


def test_a_failed_delivery_is_logged_and_retried_later(
    api: ServiceApi, pro_account: Account, receiver: Receiver
) -> None:
    _secret(pro_account)
    url = receiver.script("/flaky", [500])
    webhook = pro_account.call("POST", "/v1/webhooks", json_body={"url": url}).json()
    assert pro_account.call("POST", f"/v1/webhooks/{webhook['id']}/test").status == 202
    api.run_queue("DispatcherFunction")
    receiver.wait_for("/flaky", 1, timeout=10)
    (delivery,) = pro_account.call("GET", f"/v1/webhooks/{webhook['id']}/deliveries").json()["data"]
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 500, delivery
    assert delivery["attempt_count"] == 1 and delivery["next_attempt_at"] is not None


def test_a_finished_job_is_announced(api: ServiceApi, pro_account: Account, receiver: Receiver) -> None:
    secret = _secret(pro_account)
    url = receiver.script("/jobs", [200])
    assert pro_account.call("POST", "/v1/webhooks", json_body={"url": url}).status == 201
    file = pro_account.upload(media.sample("png", 8, 8), "a.png")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "jpg"}).json()
    api.run_queue("WorkerFunction")
    api.run_queue("DispatcherFunction")
    (arrived,) = receiver.wait_for("/jobs", 1, timeout=10)
    event = Webhook(secret).verify(arrived.body, arrived.headers)
    assert event["type"] == "conversion.succeeded", json.dumps(event)
    assert event["data"]["id"] == job["id"] and event["data"]["status"] == "succeeded"
