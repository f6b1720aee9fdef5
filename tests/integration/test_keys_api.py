"""docs/api.md §5 "Keys and account" and the limits of §3, through the local gateway."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.local_api import Client, assert_error, new_account
from tests.helpers.local_stack import moto_client
from tests.helpers.shapes import CREATED_KEY_FIELDS, LISTED_KEY_FIELDS


@pytest.fixture
def api(stack):
    return Client(stack.url)


@pytest.fixture
def master(api, stack):
    return api.with_key(new_account(stack)["api_key"])


def test_health_needs_no_key(api):
    response = api.get("/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_free_key_sign_up_conflict_and_validation(stack):
    signup = Client(stack.url, source_ip="127.0.0.21")
    email = f"Person-{uuid.uuid4().hex[:8]}@Example.com"
    response = signup.post("/v1/keys/free", json={"email": email})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"api_key", "key_id", "plan", "monthly_limit", "message"}
    assert body["plan"] == "free" and body["monthly_limit"] == 1000
    assert body["message"] == "Save this key — it will not be shown again."
    assert re.fullmatch(r"fg_live_[a-z2-7]{39}", body["api_key"])
    me = signup.with_key(body["api_key"]).get("/v1/entitlements/me").json()
    assert me["tier"] == "free" and me["key"]["id"] == body["key_id"]
    assert len(me["key"]["scopes"]) == 6  # the free key gets every scope

    assert_error(signup.post("/v1/keys/free", json={"email": email.upper()}), 409, "email_taken")
    body = assert_error(signup.post("/v1/keys/free", json={"email": "not-an-email"}), 400, "invalid_request")
    assert "email" in body["error"]["message"]


def test_free_key_is_limited_per_source_ip(stack):
    signup = Client(stack.url, source_ip="127.0.0.22")
    codes = [signup.post("/v1/keys/free", json={"email": f"ip-{uuid.uuid4().hex[:8]}@example.com"}) for _ in range(6)]
    assert [r.status_code for r in codes[:5]] == [201] * 5
    assert_error(codes[5], 429, "rate_limited")
    assert int(codes[5].headers["Retry-After"]) > 0
    # Another address is not affected.
    other = Client(stack.url, source_ip="127.0.0.23")
    assert other.post("/v1/keys/free", json={"email": f"ip-{uuid.uuid4().hex[:8]}@example.com"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": ', "JSON"),
        ("[1, 2]", "object"),
        ('{"name": 5}', "name"),
        ('{"name": "x", "scopes": "files:read"}', "scopes"),
        ('{"name": "x", "scopes": ["nope"]}', "scopes"),
        ('{"name": "x", "allowed_ips": ["999.1.1.1"]}', "allowed_ips"),
        ('{"name": "x", "expires_at": "yesterday"}', "expires_at"),
        ('{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}', "expires_at"),
        ('{"name": "x", "mode": "prod"}', "mode"),
        ('{"name": ""}', "name"),
    ],
)
def test_create_key_validation_names_the_field(master, body, field):
    response = master.post("/v1/keys", data=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, "invalid_request")
    assert field.lower() in error["error"]["message"].lower()


def test_an_unknown_member_is_invalid_parameter_naming_it(master):
    # Mistakes are loud (docs/api.md §4): a field the route does not take is 422, never ignored.
    response = master.post("/v1/keys", json={"name": "x", "surprise": 1})
    assert assert_error(response, 422, "invalid_parameter")["error"]["message"].startswith("surprise:")


def test_create_list_update_and_test_mode(master):
    created = master.post("/v1/keys", json={"name": "ci", "allowed_ips": ["10.0.0.0/8"]})
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == CREATED_KEY_FIELDS
    assert key["scopes"] == ["convert:write", "files:read", "files:write"]  # the default
    assert key["key_prefix"] == key["api_key"][:12]

    sandbox = master.post("/v1/keys", json={"name": "sandbox", "mode": "test"}).json()
    assert sandbox["api_key"].startswith("fg_test_")

    renamed = master.patch(f"/v1/keys/{key['key_id']}", json={"name": "ci-2"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "ci-2"

    listed = master.get("/v1/keys").json()
    assert set(listed) == {"data", "next_cursor"}
    for item in listed["data"]:
        assert set(item) == LISTED_KEY_FIELDS
        assert "api_key" not in json.dumps(item) and "hash" not in json.dumps(item)
    names = [k["name"] for k in listed["data"]]
    assert names[:2] == ["sandbox", "ci-2"]  # newest first


def test_list_pagination(master):
    for i in range(4):
        assert master.post("/v1/keys", json={"name": f"page-{i}"}).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = master.get("/v1/keys", params=params).json()
        assert len(page["data"]) <= 2
        seen += [k["id"] for k in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5  # four plus the account's first key
    assert_error(master.get("/v1/keys", params={"cursor": "garbage"}), 400, "invalid_request")
    assert_error(master.get("/v1/keys", params={"limit": 0}), 400, "invalid_request")


def test_a_key_never_grants_a_scope_it_lacks(master):
    narrow = master.post("/v1/keys", json={"name": "narrow", "scopes": ["keys:manage", "files:read"]}).json()
    client = master.with_key(narrow["api_key"])
    assert_error(client.post("/v1/keys", json={"name": "x", "scopes": ["files:write"]}), 403, "insufficient_scope")
    assert_error(
        client.patch(f"/v1/keys/{narrow['key_id']}", json={"scopes": ["webhooks:manage"]}), 403, "insufficient_scope"
    )
    ok = client.post("/v1/keys", json={"name": "x", "scopes": ["files:read"]})
    assert ok.status_code == 201, ok.text


def test_another_accounts_key_is_not_found(stack, master):
    other = master.with_key(new_account(stack)["api_key"])
    theirs = other.post("/v1/keys", json={"name": "theirs"}).json()["key_id"]
    assert_error(master.patch(f"/v1/keys/{theirs}", json={"name": "mine"}), 404, "not_found")
    assert_error(master.delete(f"/v1/keys/{theirs}"), 404, "not_found")
    assert_error(master.post(f"/v1/keys/{theirs}/rotate", json={}), 404, "not_found")
    assert_error(master.delete("/v1/keys/key_doesnotexist"), 404, "not_found")


def test_rotation_grace_bounds(master):
    key = master.post("/v1/keys", json={"name": "bounds"}).json()
    for grace in (-1, 86401, "soon"):
        assert_error(
            master.post(f"/v1/keys/{key['key_id']}/rotate", json={"grace_seconds": grace}), 400, "invalid_request"
        )


def test_entitlements_and_usage_shapes(master):
    me = master.get("/v1/entitlements/me").json()
    assert set(me) == {"account_id", "tier", "key", "limits", "usage"}
    assert set(me["limits"]) == {"requests_per_minute", "conversions_per_month", "max_file_bytes", "sync_max_bytes"}
    assert set(me["usage"]) == {"period", "conversions", "remaining"}
    month = datetime.now(UTC).strftime("%Y-%m")
    usage = master.get("/v1/usage", params={"from": month, "to": month})
    assert usage.status_code == 200, usage.text
    assert usage.json()["months"] == [{"month": month, "conversions": 0}]
    assert_error(master.get("/v1/usage", params={"from": "2026-13"}), 400, "invalid_request")


def test_last_used_at_is_recorded(master):
    key = master.post("/v1/keys", json={"name": "used"}).json()
    assert master.with_key(key["api_key"]).get("/v1/entitlements/me").status_code == 200
    listed = {k["id"]: k for k in master.get("/v1/keys", params={"limit": 100}).json()["data"]}
    assert listed[key["key_id"]]["last_used_at"] is not None
    assert listed[key["key_id"]]["last_used_at"].endswith(":00Z")  # kept to the minute


def test_rate_limit_is_exact_under_concurrency(stack, api):
    # Stay inside one fixed minute window.
    if datetime.now(UTC).second > 40:
        time.sleep(61 - datetime.now(UTC).second)
    client = api.with_key(new_account(stack, tier="free")["api_key"])
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: client.get("/v1/entitlements/me"), range(50)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 10, codes
    assert codes.count(429) == 40, codes
    limited = next(r for r in responses if r.status_code == 429)
    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["RateLimit"].startswith('"minute";r=0;')
    assert limited.headers["RateLimit-Policy"] == '"minute";q=10;w=60'


def test_unknown_route_is_404(api, master):
    assert_error(master.get("/v1/nothing-here"), 404, "not_found")
    assert_error(api.get("/nope"), 404, "not_found")


def test_no_raw_key_in_storage_or_logs(stack, master):
    raw_keys = [master.key]
    for i in range(2):
        raw_keys.append(master.post("/v1/keys", json={"name": f"secret-{i}"}).json()["api_key"])
    for key in raw_keys:
        master.with_key(key).get("/v1/entitlements/me")
        master.with_key(key[:-1] + "a").get("/v1/entitlements/me")  # refused keys are not logged either
    dynamodb = moto_client(stack, "dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        dump = json.dumps(dynamodb.scan(TableName=table)["Items"], default=repr)  # binary attributes as repr
        for key in raw_keys:
            assert key not in dump and key[12:] not in dump, table
    logs = "".join(p.read_text(errors="replace") for p in stack.log_dir.glob("*.log"))
    assert "key_id" in logs  # the functions did log this traffic
    for key in raw_keys:
        assert key not in logs and key[12:] not in logs


def test_a_change_that_cannot_be_stamped_fails_loudly(stack):
    """Stamping retries, then raises: a change call never returns success while a cached answer could
    still outlive it."""
    from filegate.db import bind
    from filegate.db.accounts import AccountRecord
    from filegate.db.counters import CounterRecord
    from filegate.keys import stamps

    account = new_account(stack)
    region = stack.state["region"]
    bind(AccountRecord, stack.state["outputs"]["AccountsTableName"], region)
    change = stamps.begin(account["account_id"], datetime.now(UTC))
    assert change is not None and change.version >= 1
    previous = CounterRecord.Meta.table_name
    bind(CounterRecord, "no-such-counters-table", region)
    try:
        with pytest.raises(stamps.StampingFailed, match="not stamped"):
            stamps.publish_account_change(
                account["account_id"], change.version, now=datetime.now(UTC), horizon=timedelta(seconds=60)
            )
    finally:
        bind(CounterRecord, previous, region)
