"""The audit log (docs/api.md §8): recorded by the services for every change, read with GET /v1/audit."""

from __future__ import annotations

import json
from typing import Any

from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error, change_account, sign_up


def _entries(account: Account, **query: str) -> dict[str, Any]:
    response = account.call("GET", "/v1/audit", query=query)
    assert response.status == 200, response
    body: dict[str, Any] = response.json()
    return body


def _every_entry(account: Account) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _entries(account, limit="100", **({"cursor": cursor} if cursor else {}))
        found.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_every_key_change_is_recorded_newest_first_with_its_key_and_address(free_account: Account) -> None:
    created = free_account.create_key(name="ci")
    key_id = created["key_id"]
    assert free_account.call("PATCH", f"/v1/keys/{key_id}", json_body={"name": "ci-2"}).status == 200
    rotated = free_account.call("POST", f"/v1/keys/{key_id}/rotate", json_body={"grace_seconds": 0})
    assert rotated.status == 201, rotated
    new_id = rotated.json()["key_id"]
    assert free_account.call("DELETE", f"/v1/keys/{new_id}").status == 204
    assert free_account.call("DELETE", f"/v1/keys/{new_id}").status == 204  # idempotent: no second entry

    body = _entries(free_account)
    assert set(body) == {"data", "next_cursor"}
    entries = body["data"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("key.revoked", new_id),
        ("key.rotated", key_id),
        ("key.updated", key_id),
        ("key.created", key_id),
        ("key.created", free_account.key_id),  # the sign-up's first key
    ]
    first_prefix = free_account.key[:12]
    for entry in entries[:4]:
        assert set(entry) == {"id", "at", "actor", "action", "target", "ip"}
        assert entry["actor"] == {"type": "key", "id": free_account.key_id, "label": first_prefix}
        assert entry["ip"] == free_account.source_ip
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    raw = json.dumps(body)
    assert free_account.key not in raw and created["api_key"] not in raw and rotated.json()["api_key"] not in raw


def test_pages_follow_the_cursor_and_a_foreign_cursor_is_400(api: ServiceApi, free_account: Account) -> None:
    for n in range(4):
        free_account.create_key(name=f"k{n}")
    first = _entries(free_account, limit="2")
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = _entries(free_account, limit="2", cursor=first["next_cursor"])
    third = _entries(free_account, limit="2", cursor=second["next_cursor"])
    ids = [e["id"] for page in (first, second, third) for e in page["data"]]
    assert len(ids) == len(set(ids)) == 5 and third["next_cursor"] is None
    other = sign_up(api)
    assert_error(other.call("GET", "/v1/audit", query={"cursor": first["next_cursor"]}), 400, "invalid_request")
    assert_error(free_account.call("GET", "/v1/audit", query={"cursor": "not-a-cursor"}), 400, "invalid_request")
    assert _entries(other)["data"][0]["target"] == other.key_id  # its own entries only


def test_reading_the_log_needs_keys_manage(free_account: Account) -> None:
    narrow = free_account.create_key(name="ci", scopes=["files:read"])
    assert_error(free_account.with_key(narrow["api_key"]).call("GET", "/v1/audit"), 403, "insufficient_scope")


def test_operator_changes_are_recorded_as_admin(api: ServiceApi, free_account: Account) -> None:
    change_account(api, free_account.account_id, tier="pro")
    change_account(api, free_account.account_id, status="suspended")
    change_account(api, free_account.account_id, status="active")
    entries = [e for e in _every_entry(free_account) if e["action"] == "account.updated"]
    assert [e["target"] for e in entries] == ["status=active", "status=suspended", "tier=pro"]
    assert all(e["actor"]["type"] == "admin" and e["actor"]["id"].startswith("admin:") for e in entries)


def test_webhook_changes_are_recorded(pro_account: Account) -> None:
    assert pro_account.call("POST", "/v1/webhooks/secret").status == 201
    assert pro_account.call("POST", "/v1/webhooks/secret").status == 201
    created = pro_account.call("POST", "/v1/webhooks", json_body={"url": "http://127.0.0.1:9099/fg"})
    assert created.status == 201, created
    webhook_id = created.json()["id"]
    assert pro_account.call("DELETE", f"/v1/webhooks/{webhook_id}").status == 204
    entries = [e for e in _every_entry(pro_account) if e["action"].startswith("webhook.")]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("webhook.deleted", webhook_id),
        ("webhook.created", webhook_id),
        ("webhook.secret_rotated", "signing_secret"),
        ("webhook.secret_created", "signing_secret"),
    ]
    assert all(e["actor"]["type"] == "key" and e["ip"] == pro_account.source_ip for e in entries)
