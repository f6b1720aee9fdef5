"""What service tests do again and again: accounts, multipart bodies, uploads, usage set-up, errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
import urllib3

from tests.service.harness import Response, ServiceApi, next_source_ip


@dataclass
class Account:
    """A signed-up account and its first key (every scope, as /v1/keys/free gives)."""

    account_id: str
    key: str
    key_id: str
    source_ip: str
    api: ServiceApi

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        kwargs.setdefault("key", self.key)
        kwargs.setdefault("source_ip", self.source_ip)
        return self.api.call(method, path, **kwargs)

    def with_key(self, key: str) -> Account:
        return Account(self.account_id, key, self.key_id, self.source_ip, self.api)

    def create_key(self, **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/v1/keys", json_body={"name": "service-test", **body})
        assert response.status == 201, response
        created: dict[str, Any] = response.json()
        return created

    def convert(self, data: bytes, target: str | None, filename: str = "input.png", **fields: str) -> Response:
        """POST /v1/convert (or /v1/compress without a target) as multipart/form-data."""
        form: dict[str, Any] = {**fields, "file": (filename, data, "application/octet-stream")}
        if target is not None:
            form["target"] = target
        body, content_type = urllib3.encode_multipart_formdata(form)
        path = "/v1/convert" if target is not None else "/v1/compress"
        return self.call("POST", path, body=body, headers={"Content-Type": content_type})

    def upload(self, data: bytes, filename: str = "upload.png") -> dict[str, Any]:
        """A ready file: POST /v1/files, the bytes to the presigned POST (moto's S3), then complete."""
        created = self.call("POST", "/v1/files", json_body={"filename": filename, "size": len(data)})
        assert created.status == 201, created
        upload = created.json()["upload"]
        posted = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=30)
        assert posted.status_code in (200, 201, 204), posted.text
        completed = self.call("POST", f"/v1/files/{created.json()['id']}/complete")
        assert completed.status == 200, completed
        ready: dict[str, Any] = completed.json()
        return ready

    def conversions_this_month(self) -> int:
        """Through the data layer, so reading it costs no request against the rate limit."""
        from filegate.clock import utcnow
        from filegate.metering import limits

        return limits.conversions_this_month(self.account_id, utcnow())

    def set_conversions_this_month(self, value: int) -> None:
        """Put this month's conversion counter at ``value`` through the data layer (a new account is at 0)."""
        from filegate.clock import month_key, utcnow
        from filegate.db import counters
        from filegate.metering import limits

        now = utcnow()
        counter = limits._month_counter(self.account_id, month_key(now))
        assert counters.increment(counter, by=value, expires_at=now + timedelta(days=40)) == value
        assert self.conversions_this_month() == value  # the counter the quota reads, not a look-alike


def sign_up(api: ServiceApi, tier: str = "free") -> Account:
    """A new account through POST /v1/keys/free; another tier is the operator's change (as filegate-admin)."""
    source_ip = next_source_ip()
    email = f"svc-{uuid.uuid4().hex}@example.com"
    response = api.call("POST", "/v1/keys/free", json_body={"email": email}, source_ip=source_ip)
    assert response.status == 201, response
    created = response.json()
    context = api.authorizer_context("GET", "/v1/entitlements/me", key=created["api_key"], source_ip=source_ip)
    assert context is not None
    account = Account(context["account_id"], created["api_key"], created["key_id"], source_ip, api)
    if tier != "free":
        change_account(api, account.account_id, tier=tier)
    return account


def change_account(api: ServiceApi, account_id: str, *, tier: str | None = None, status: str | None = None) -> None:
    """An operator's change of tier or status, through the keys service as filegate-admin makes it."""
    from filegate.accounts import service
    from filegate.clock import utcnow

    if tier is not None:
        service.set_account_tier(account_id, tier, now=utcnow(), horizon=_cache_horizon(api))
    if status is not None:
        service.set_account_status(account_id, status, now=utcnow(), horizon=_cache_horizon(api))


def _cache_horizon(api: ServiceApi) -> timedelta:
    """How long a change is stamped for: the authorizer cache's TTL, a template parameter (issue 7)."""
    return timedelta(seconds=int(api.parameters["AuthorizerCacheTtl"]))


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """The docs/api.md error body with this status and code (and the request id in body and header)."""
    assert response.status == status, response
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["request_id"] and response.headers.get("x-request-id") == body["error"]["request_id"]
    return body
