"""docs/api.md §1: authentication at the edge, through the local gateway and the real authorizer."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from filegate.errors import INVALID_API_KEY_MESSAGE
from filegate.keys import keyformat
from tests.helpers.local_api import Client, admin, assert_error, new_account
from tests.helpers.shapes import CREATED_KEY_FIELDS

WHO = "/v1/entitlements/me"


@pytest.fixture
def api(stack):
    return Client(stack.url)


@pytest.fixture
def account(stack):
    return new_account(stack)


def _assert_the_one_401(response):
    body = assert_error(response, 401, "invalid_api_key")
    assert body["error"]["message"] == INVALID_API_KEY_MESSAGE
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="filegate"'
    return {k: v for k, v in body["error"].items() if k != "request_id"}


def _assert_the_functions_401(response):
    """The same 401 from a function, for a key that died while API Gateway caches its authorizer answer.

    Same status and body; API Gateway renames a function's WWW-Authenticate header (docs/api.md §1).
    """
    body = assert_error(response, 401, "invalid_api_key")
    assert body["error"]["message"] == INVALID_API_KEY_MESSAGE
    assert response.headers["x-amzn-Remapped-WWW-Authenticate"] == 'Bearer realm="filegate"'
    return {k: v for k, v in body["error"].items() if k != "request_id"}


def test_every_cause_of_failure_gets_the_same_401(stack, api, account):
    master = api.with_key(account["api_key"])
    revoked = master.post("/v1/keys", json={"name": "to revoke"}).json()
    assert master.delete(f"/v1/keys/{revoked['key_id']}").status_code == 204
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    expiring = master.post("/v1/keys", json={"name": "expiring", "expires_at": soon}).json()
    fenced = master.post("/v1/keys", json={"name": "fenced", "allowed_ips": ["203.0.113.0/24"]}).json()
    good = keyformat.generate()
    bad_checksum = good[:-1] + ("a" if good[-1] != "a" else "b")
    time.sleep(2.5)

    answers = [
        _assert_the_one_401(api.get(WHO)),  # no header
        _assert_the_one_401(api.get(WHO, headers={"Authorization": "Bearer"})),
        _assert_the_one_401(api.get(WHO, headers={"Authorization": "Token abc"})),
        _assert_the_one_401(api.get(WHO, headers={"Authorization": "Bearer fg_live_short"})),
        _assert_the_one_401(api.with_key(bad_checksum).get(WHO)),
        _assert_the_one_401(api.with_key(good).get(WHO)),  # well formed, unknown
        _assert_the_one_401(api.with_key(revoked["api_key"]).get(WHO)),
        _assert_the_one_401(api.with_key(expiring["api_key"]).get(WHO)),
        # Refused by the function, after its freshness check (an allowlist may widen while API Gateway
        # caches the answer for this address): the same status and body.
        _assert_the_functions_401(api.with_key(fenced["api_key"]).get(WHO)),
    ]
    assert all(a == answers[0] for a in answers)


def test_bearer_and_basic_both_work(api, account):
    key = account["api_key"]
    assert api.with_key(key).get(WHO).status_code == 200
    basic = base64.b64encode(f"{key}:".encode()).decode()
    response = api.get(WHO, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text
    assert response.json()["account_id"] == account["account_id"]


def test_authenticated_responses_carry_request_id_and_ratelimit_headers(api, account):
    response = api.with_key(account["api_key"]).get(WHO)
    assert response.status_code == 200
    assert response.headers["X-Request-Id"]
    assert response.headers["RateLimit-Policy"] == '"minute";q=600;w=60'
    assert response.headers["RateLimit"].startswith('"minute";r=')


def test_revoked_key_fails_on_the_very_next_request_while_cached(api, account):
    master = api.with_key(account["api_key"])
    victim = master.post("/v1/keys", json={"name": "victim"}).json()
    client = api.with_key(victim["api_key"])
    assert client.get(WHO).status_code == 200  # the allow is now cached
    assert client.get(WHO).status_code == 200
    assert master.delete(f"/v1/keys/{victim['key_id']}").status_code == 204
    first = _assert_the_functions_401(client.get(WHO))
    assert _assert_the_functions_401(client.get(WHO)) == first  # and every request after it
    assert first == _assert_the_one_401(api.get(WHO))  # the very body of the authorizer's 401
    assert master.delete(f"/v1/keys/{victim['key_id']}").status_code == 204  # idempotent


def test_rotation_without_grace_kills_the_old_key_at_once(api, account):
    master = api.with_key(account["api_key"])
    old = master.post("/v1/keys", json={"name": "rotating", "scopes": ["files:read"]}).json()
    old_client = api.with_key(old["api_key"])
    assert old_client.get(WHO).status_code == 200
    response = master.post(f"/v1/keys/{old['key_id']}/rotate", json={})
    assert response.status_code == 201, response.text
    new = response.json()
    assert set(new) == CREATED_KEY_FIELDS
    assert new["name"] == "rotating" and new["scopes"] == ["files:read"] and new["api_key"] != old["api_key"]
    _assert_the_functions_401(old_client.get(WHO))
    assert api.with_key(new["api_key"]).get(WHO).status_code == 200


def test_rotation_with_grace_keeps_both_working(api, account):
    master = api.with_key(account["api_key"])
    old = master.post("/v1/keys", json={"name": "graceful"}).json()
    response = api.with_key(old["api_key"]).post("/v1/keys/rotate", json={"grace_seconds": 3600})
    assert response.status_code == 201, response.text
    new = response.json()
    assert api.with_key(old["api_key"]).get(WHO).status_code == 200
    assert api.with_key(new["api_key"]).get(WHO).status_code == 200
    listed = {k["id"]: k for k in master.get("/v1/keys", params={"limit": 100}).json()["data"]}
    revoked_at = datetime.fromisoformat(listed[old["key_id"]]["revoked_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=55) < revoked_at - datetime.now(UTC) <= timedelta(hours=1)
    assert listed[new["key_id"]]["revoked_at"] is None


def test_grace_end_applies_even_while_the_policy_is_cached(api, account):
    master = api.with_key(account["api_key"])
    old = master.post("/v1/keys", json={"name": "short grace"}).json()
    old_client = api.with_key(old["api_key"])
    assert master.post(f"/v1/keys/{old['key_id']}/rotate", json={"grace_seconds": 2}).status_code == 201
    assert old_client.get(WHO).status_code == 200  # cached for the TTL, but only valid for 2 s
    time.sleep(2.5)
    # The function refuses the cached answer (its context carries valid_until), on every request: no flush.
    _assert_the_functions_401(old_client.get(WHO))
    _assert_the_functions_401(old_client.get(WHO))


def test_expiry_applies_even_while_the_policy_is_cached(api, account):
    master = api.with_key(account["api_key"])
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    expiring = api.with_key(master.post("/v1/keys", json={"name": "expiring", "expires_at": soon}).json()["api_key"])
    assert expiring.get(WHO).status_code == 200  # cached for the TTL, but only valid for 2 s
    time.sleep(2.5)
    _assert_the_functions_401(expiring.get(WHO))


def test_scope_denial_after_a_cached_allow_on_another_route(api, account):
    master = api.with_key(account["api_key"])
    narrow = master.post("/v1/keys", json={"name": "narrow", "scopes": ["files:read"]}).json()
    client = api.with_key(narrow["api_key"])
    assert client.get(WHO).status_code == 200
    body = assert_error(client.get("/v1/keys"), 403, "insufficient_scope")
    assert body["error"]["message"] == "This key may not call GET /v1/keys."
    body = assert_error(client.delete(f"/v1/keys/{narrow['key_id']}"), 403, "insufficient_scope")
    assert body["error"]["message"] == "This key may not call DELETE /v1/keys/{id}."


def test_scope_change_applies_on_the_next_request(api, account):
    master = api.with_key(account["api_key"])
    key = master.post("/v1/keys", json={"name": "grows", "scopes": ["files:read"]}).json()
    client = api.with_key(key["api_key"])
    assert_error(client.get("/v1/keys"), 403, "insufficient_scope")
    response = master.patch(f"/v1/keys/{key['key_id']}", json={"scopes": ["files:read", "keys:manage"]})
    assert response.status_code == 200, response.text
    assert client.get("/v1/keys").status_code == 200


def test_suspended_account_then_reactivated(stack, api, account):
    client = api.with_key(account["api_key"])
    assert client.get(WHO).status_code == 200
    admin(stack, "set-status", account["account_id"], "suspended")
    body = assert_error(client.get(WHO), 403, "account_suspended")
    assert "suspended" in body["error"]["message"]
    assert_error(client.get("/v1/keys"), 403, "account_suspended")
    admin(stack, "set-status", account["account_id"], "active")
    assert client.get(WHO).status_code == 200


def test_tier_change_applies_on_the_next_request(stack, api):
    account = new_account(stack, tier="free")
    client = api.with_key(account["api_key"])
    assert client.get(WHO).json()["tier"] == "free"
    admin(stack, "set-tier", account["account_id"], "pro")
    me = client.get(WHO).json()
    assert me["tier"] == "pro" and me["limits"]["requests_per_minute"] == 600


def test_ip_allowlist_uses_the_tcp_source_and_ignores_x_forwarded_for(stack, api, account):
    master = api.with_key(account["api_key"])
    fenced = master.post("/v1/keys", json={"name": "fenced", "allowed_ips": ["127.0.0.5/32", "2001:db8::/32"]}).json()
    inside = Client(stack.url, fenced["api_key"], source_ip="127.0.0.5")
    outside = Client(stack.url, fenced["api_key"], source_ip="127.0.0.1")
    assert inside.get(WHO).status_code == 200
    _assert_the_functions_401(outside.get(WHO, headers={"X-Forwarded-For": "127.0.0.5"}))
    _assert_the_functions_401(outside.get(WHO))
    # Narrowing the allowlist applies at once, even for the address whose allow is cached.
    assert master.patch(f"/v1/keys/{fenced['key_id']}", json={"allowed_ips": ["127.0.0.6"]}).status_code == 200
    _assert_the_functions_401(inside.get(WHO))


def test_widening_an_allowlist_applies_at_once_for_an_address_refused_before(stack, api, account):
    """Whether API Gateway also caches an authorizer's 401 for a (header, IP) identity, its documentation does
    not say; the authorizer therefore never refuses an address at the edge. It allows with the context marked,
    the cached answer serves the next requests, and the function refuses them after its freshness check
    (without counting them against the account's rate limit) until the allowlist lets the address in."""
    master = api.with_key(account["api_key"])
    fenced = master.post("/v1/keys", json={"name": "fenced", "allowed_ips": ["127.0.0.5"]}).json()
    outside = Client(stack.url, fenced["api_key"], source_ip="127.0.0.7")
    invocations = stack.invocations("AuthorizerFunction")
    for _ in range(3):
        _assert_the_functions_401(outside.get(WHO))
    assert stack.invocations("AuthorizerFunction") == invocations + 1  # the answer for 127.0.0.7 is cached
    widened = master.patch(f"/v1/keys/{fenced['key_id']}", json={"allowed_ips": ["127.0.0.5", "127.0.0.7"]})
    assert widened.status_code == 200
    me = outside.get(WHO)
    assert me.status_code == 200, me.text
    assert stack.invocations("AuthorizerFunction") == invocations + 1  # served from the cached answer


# ------------------------------------------------------------------ every change, every function, TTL 3600

# One route per HTTP function: (method, path, scope it needs).
THROUGH = {
    "keys": ("GET", "/v1/keys", "keys:manage"),
    "convert": ("GET", "/v1/conversions", None),
    "files": ("GET", "/v1/files", "files:read"),
    "webhooks": ("GET", "/v1/webhooks", "webhooks:manage"),
}


def test_the_stack_caches_authorizer_answers_for_an_hour(stack):
    assert int(stack.state["parameters"]["AuthorizerCacheTtl"]) == 3600


def _cached_key(stack, api, account, **body):
    """A new key of the account, whose authorizer answer is now cached (one request made)."""
    master = api.with_key(account["api_key"])
    created = master.post("/v1/keys", json={"name": "subject", **body})
    assert created.status_code == 201, created.text
    key = created.json()
    client = api.with_key(key["api_key"])
    before = stack.invocations("AuthorizerFunction")
    assert client.get(WHO).status_code == 200
    assert client.get(WHO).status_code == 200
    assert stack.invocations("AuthorizerFunction") == before + 1  # the second one was a cache hit
    return master, key, client


@pytest.mark.parametrize("function", sorted(THROUGH))
def test_revocation_and_rotation_apply_on_the_next_request_through_every_function(stack, api, account, function):
    method, path, _ = THROUGH[function]
    master, key, client = _cached_key(stack, api, account, scopes=["keys:manage", "files:read", "webhooks:manage"])
    assert client.request(method, path).status_code == 200
    assert master.delete(f"/v1/keys/{key['key_id']}").status_code == 204
    _assert_the_functions_401(client.request(method, path))

    _, key, client = _cached_key(stack, api, account, scopes=["keys:manage", "files:read", "webhooks:manage"])
    assert master.post(f"/v1/keys/{key['key_id']}/rotate", json={}).status_code == 201
    _assert_the_functions_401(client.request(method, path))


# One route per HTTP function that needs a scope: (method, path, scope). The convert route is sent an
# empty body: with the scope it is 400 invalid_request (past the route check), without it 403.
SCOPED = {
    "keys": ("GET", "/v1/keys", "keys:manage"),
    "convert": ("POST", "/v1/conversions", "convert:write"),
    "files": ("GET", "/v1/files", "files:read"),
    "webhooks": ("GET", "/v1/webhooks", "webhooks:manage"),
}
ALL_SCOPED = ["keys:manage", "convert:write", "files:read", "webhooks:manage"]


@pytest.mark.parametrize("function", sorted(SCOPED))
def test_narrowing_and_widening_scopes_apply_on_the_next_request_through_every_function(stack, api, account, function):
    method, path, scope = SCOPED[function]
    others = [s for s in ALL_SCOPED if s != scope]
    master, key, client = _cached_key(stack, api, account, scopes=ALL_SCOPED)
    assert client.request(method, path, json={}).status_code in (200, 400)
    assert master.patch(f"/v1/keys/{key['key_id']}", json={"scopes": others}).status_code == 200
    body = assert_error(client.request(method, path, json={}), 403, "insufficient_scope")
    assert body["error"]["message"] == f"This key may not call {method} {path}."
    assert master.patch(f"/v1/keys/{key['key_id']}", json={"scopes": ALL_SCOPED}).status_code == 200
    assert client.request(method, path, json={}).status_code in (200, 400)


@pytest.mark.parametrize("function", sorted(THROUGH))
def test_allowlist_and_account_status_apply_on_the_next_request_through_every_function(stack, api, account, function):
    method, path, _ = THROUGH[function]
    master, key, client = _cached_key(stack, api, account, scopes=["keys:manage", "files:read", "webhooks:manage"])
    assert master.patch(f"/v1/keys/{key['key_id']}", json={"allowed_ips": ["203.0.113.7"]}).status_code == 200
    _assert_the_functions_401(client.request(method, path))
    assert master.patch(f"/v1/keys/{key['key_id']}", json={"allowed_ips": []}).status_code == 200
    assert client.request(method, path).status_code == 200  # widening too

    admin(stack, "set-status", account["account_id"], "suspended")
    body = assert_error(client.request(method, path), 403, "account_suspended")
    assert body["error"]["message"] == f"This account is suspended; this key may not call {method} {path}."
    admin(stack, "set-status", account["account_id"], "active")
    assert client.request(method, path).status_code == 200


def test_tier_changes_apply_on_the_next_request_both_ways(stack, api, account):
    _, _, client = _cached_key(stack, api, account, scopes=["webhooks:manage", "convert:write"])
    assert client.get("/v1/webhooks").status_code == 200
    admin(stack, "set-tier", account["account_id"], "free")
    body = assert_error(client.get("/v1/webhooks"), 403, "tier_required")
    assert "free" in body["error"]["message"]
    assert client.get(WHO).json()["limits"]["requests_per_minute"] == 10
    admin(stack, "set-tier", account["account_id"], "pro")
    assert client.get("/v1/webhooks").status_code == 200
    admin(stack, "set-tier", account["account_id"], "enterprise")
    me = client.get(WHO)
    assert me.json()["tier"] == "enterprise" and me.headers["RateLimit-Policy"] == '"minute";q=600000;w=60'


def test_other_accounts_changes_cost_a_cached_account_no_authorizer_call(stack, api):
    watched = api.with_key(new_account(stack)["api_key"])
    busy = api.with_key(new_account(stack)["api_key"])
    assert watched.get(WHO).status_code == 200
    assert busy.get(WHO).status_code == 200  # both answers cached
    before = stack.invocations("AuthorizerFunction")
    for i in range(3):
        key = busy.post("/v1/keys", json={"name": f"churn {i}", "scopes": ["files:read"]}).json()
        assert busy.patch(f"/v1/keys/{key['key_id']}", json={"scopes": ["files:write"]}).status_code == 200
        assert busy.post(f"/v1/keys/{key['key_id']}/rotate", json={"grace_seconds": 60}).status_code == 201
        assert busy.delete(f"/v1/keys/{key['key_id']}").status_code == 204
        assert watched.get(WHO).status_code == 200
    assert stack.invocations("AuthorizerFunction") == before  # no flush, no re-authorization
    assert "cache/authorizers" not in (stack.log_dir / "gateway.log").read_text()  # nothing tried to flush


def test_many_key_changes_collapse_the_stamps_and_still_apply_at_once(stack, api, account):
    from filegate.db.counters import KEY_STAMP_PREFIX, KEYS_STAMP, MAX_KEY_STAMPS

    master, subject, client = _cached_key(stack, api, account, scopes=["files:read"])
    _, bystander, bystander_client = _cached_key(stack, api, account, scopes=["files:read"])
    for i in range(MAX_KEY_STAMPS + 2):
        other = master.post("/v1/keys", json={"name": f"other {i}", "scopes": ["files:read"]}).json()
        assert master.patch(f"/v1/keys/{other['key_id']}", json={"scopes": ["files:write"]}).status_code == 200
    # The current minute's rate item: a bounded number of key stamps, the rest folded into one.
    window = int(time.time()) // 60
    item = boto3.client("dynamodb").get_item(
        TableName=stack.state["outputs"]["CountersTableName"],
        Key={"counter_id": {"S": f"rate#{account['account_id']}#{window}"}},
        ConsistentRead=True,
    )["Item"]
    assert sum(name.startswith(KEY_STAMP_PREFIX) for name in item) <= MAX_KEY_STAMPS
    assert KEYS_STAMP in item
    # A collapsed stamp sends every cached key of the account back to the database once: the unchanged
    # key still works, and a change still applies on the next request.
    assert bystander_client.get(WHO).status_code == 200
    assert master.delete(f"/v1/keys/{subject['key_id']}").status_code == 204
    _assert_the_functions_401(client.get(WHO))
    assert bystander_client.get(WHO).status_code == 200
    assert bystander["key_id"] != subject["key_id"]


def test_a_change_after_a_downgrade_reaches_requests_that_still_write_the_old_tiers_shards(stack, api):
    # Cached answers still name enterprise (20 rate items) for a TTL after a move to pro (one item): a key
    # change in that time must be stamped on every one of the 20, or a request could miss it.
    account = new_account(stack, tier="enterprise")
    master, key, client = _cached_key(stack, api, account, scopes=["files:read"])
    admin(stack, "set-tier", account["account_id"], "pro")
    assert client.get(WHO).json()["tier"] == "pro"
    assert master.delete(f"/v1/keys/{key['key_id']}").status_code == 204
    for _ in range(10):  # each request writes a random one of the enterprise shards
        _assert_the_functions_401(client.get(WHO))
