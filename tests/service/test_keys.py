"""Keys and account (docs/api.md §1, §5): sign-up, create/list/patch/revoke/rotate, scopes, test keys."""

from __future__ import annotations

import json
import re

from filegate.errors import INVALID_API_KEY_MESSAGE
from tests.helpers.shapes import CREATED_KEY_FIELDS, LISTED_KEY_FIELDS
from tests.service.harness import ServiceApi, next_source_ip
from tests.service.helpers import Account, assert_error, sign_up

KEY_SHAPE = re.compile(r"fg_(live|test)_[a-z2-7]{39}")


def test_free_sign_up_gives_every_scope_and_refuses_the_same_email(api: ServiceApi) -> None:
    email = f"Mixed.Case+{next_source_ip()}@Example.com"
    first = api.call("POST", "/v1/keys/free", json_body={"email": email}, source_ip=next_source_ip())
    assert first.status == 201, first
    body = first.json()
    assert set(body) == {"api_key", "key_id", "plan", "monthly_limit", "message"}
    assert body["plan"] == "free" and body["monthly_limit"] == 1000
    assert KEY_SHAPE.fullmatch(body["api_key"]) and body["api_key"].startswith("fg_live_")

    me = api.call("GET", "/v1/entitlements/me", key=body["api_key"])
    assert me.status == 200, me
    assert me.json()["tier"] == "free" and me.json()["key"]["id"] == body["key_id"]
    assert set(me.json()["key"]["scopes"]) == {
        "convert:write",
        "files:read",
        "files:write",
        "files:delete",
        "keys:manage",
        "webhooks:manage",
    }
    again = api.call("POST", "/v1/keys/free", json_body={"email": email.lower()}, source_ip=next_source_ip())
    assert_error(again, 409, "email_taken")


def test_create_list_and_patch_a_key(pro_account: Account) -> None:
    created = pro_account.create_key(name="ci")
    assert set(created) == CREATED_KEY_FIELDS
    assert created["scopes"] == ["convert:write", "files:read", "files:write"]  # the default
    assert created["key_prefix"] == created["api_key"][:12]
    assert pro_account.call("GET", "/v1/entitlements/me", key=created["api_key"]).status == 200

    listed = pro_account.call("GET", "/v1/keys")
    assert listed.status == 200, listed
    items = {item["id"]: item for item in listed.json()["data"]}
    assert set(items) == {pro_account.key_id, created["key_id"]}
    assert set(items[created["key_id"]]) == LISTED_KEY_FIELDS
    dump = json.dumps(listed.json())
    assert created["api_key"] not in dump and pro_account.key not in dump and "hash" not in dump

    renamed = pro_account.call("PATCH", f"/v1/keys/{created['key_id']}", json_body={"name": "ci-2"})
    assert renamed.status == 200 and renamed.json()["name"] == "ci-2", renamed
    narrowed = pro_account.call("PATCH", f"/v1/keys/{created['key_id']}", json_body={"scopes": ["files:read"]})
    assert narrowed.status == 200 and narrowed.json()["scopes"] == ["files:read"], narrowed
    # The narrowed key now meets the gateway's/function's scope check on the next request.
    refused = pro_account.call("POST", "/v1/files", key=created["api_key"], json_body={"filename": "a.png", "size": 1})
    body = assert_error(refused, 403, "insufficient_scope")
    assert body["error"]["message"] == "This key may not call POST /v1/files."


def test_a_key_never_grants_a_scope_it_lacks(pro_account: Account) -> None:
    manager = pro_account.create_key(name="manager", scopes=["keys:manage", "files:read"])
    as_manager = pro_account.with_key(manager["api_key"])
    assert_error(
        as_manager.call("POST", "/v1/keys", json_body={"name": "x", "scopes": ["files:write"]}),
        403,
        "insufficient_scope",
    )
    widened = as_manager.call("PATCH", f"/v1/keys/{manager['key_id']}", json_body={"scopes": ["convert:write"]})
    assert_error(widened, 403, "insufficient_scope")
    allowed = as_manager.call("POST", "/v1/keys", json_body={"name": "reader", "scopes": ["files:read"]})
    assert allowed.status == 201 and allowed.json()["scopes"] == ["files:read"], allowed


def test_a_default_key_may_not_manage_keys(pro_account: Account) -> None:
    default = pro_account.create_key(name="default-scopes")
    refused = pro_account.call("GET", "/v1/keys", key=default["api_key"])
    body = assert_error(refused, 403, "insufficient_scope")
    assert body["error"]["message"] == "This key may not call GET /v1/keys."


def test_revoke_is_at_once_and_idempotent(pro_account: Account) -> None:
    doomed = pro_account.create_key(name="doomed")
    assert pro_account.call("GET", "/v1/entitlements/me", key=doomed["api_key"]).status == 200
    revoked = pro_account.call("DELETE", f"/v1/keys/{doomed['key_id']}")
    assert revoked.status == 204 and revoked.body == b"", revoked
    dead = pro_account.call("GET", "/v1/entitlements/me", key=doomed["api_key"])
    assert_error(dead, 401, "invalid_api_key")
    assert dead.headers["www-authenticate"] == 'Bearer realm="filegate"'
    assert pro_account.call("DELETE", f"/v1/keys/{doomed['key_id']}").status == 204
    listed = {k["id"]: k for k in pro_account.call("GET", "/v1/keys").json()["data"]}
    assert listed[doomed["key_id"]]["revoked_at"] is not None


def test_rotate_replaces_the_key_and_keeps_its_settings(pro_account: Account) -> None:
    old = pro_account.create_key(name="rotating", scopes=["files:read"], allowed_ips=["198.18.0.0/15"])
    rotated = pro_account.call("POST", f"/v1/keys/{old['key_id']}/rotate", json_body={})
    assert rotated.status == 201, rotated
    new = rotated.json()
    assert set(new) == CREATED_KEY_FIELDS
    assert new["api_key"] != old["api_key"] and new["key_id"] != old["key_id"]
    assert (new["name"], new["scopes"], new["allowed_ips"]) == (old["name"], old["scopes"], old["allowed_ips"])
    assert_error(pro_account.call("GET", "/v1/files", key=old["api_key"]), 401, "invalid_api_key")  # no grace
    assert pro_account.call("GET", "/v1/files", key=new["api_key"]).status == 200
    # The allowlist came along: the same key from elsewhere is refused like any bad key.
    assert_error(
        pro_account.call("GET", "/v1/files", key=new["api_key"], source_ip="192.0.2.1"), 401, "invalid_api_key"
    )


def test_rotating_the_calling_key_with_grace_keeps_it_working_meanwhile(pro_account: Account) -> None:
    rotated = pro_account.call("POST", "/v1/keys/rotate", json_body={"grace_seconds": 3600})
    assert rotated.status == 201, rotated
    assert pro_account.call("GET", "/v1/entitlements/me").status == 200  # the old key, in its grace
    assert pro_account.call("GET", "/v1/entitlements/me", key=rotated.json()["api_key"]).status == 200
    too_long = pro_account.call("POST", "/v1/keys/rotate", json_body={"grace_seconds": 86_401})
    assert_error(too_long, 400, "invalid_request")


def test_test_mode_keys(pro_account: Account) -> None:
    sandbox = pro_account.create_key(name="sandbox", mode="test")
    assert KEY_SHAPE.fullmatch(sandbox["api_key"]) and sandbox["api_key"].startswith("fg_test_")
    assert pro_account.call("GET", "/v1/entitlements/me", key=sandbox["api_key"]).status == 200


def test_another_accounts_key_is_not_found(api: ServiceApi, pro_account: Account) -> None:
    theirs = sign_up(api, "pro").key_id
    assert_error(pro_account.call("PATCH", f"/v1/keys/{theirs}", json_body={"name": "mine"}), 404, "not_found")
    assert_error(pro_account.call("DELETE", f"/v1/keys/{theirs}"), 404, "not_found")
    assert_error(pro_account.call("POST", f"/v1/keys/{theirs}/rotate", json_body={}), 404, "not_found")


def test_every_bad_key_gets_the_same_401(api: ServiceApi, pro_account: Account) -> None:
    good = pro_account.key
    flipped = good[:-1] + ("a" if good[-1] != "a" else "b")  # checksum no longer matches
    from filegate.keys import keyformat

    unknown = keyformat.generate()  # well-formed, checksum right, never stored
    for key in (None, "", "not-a-key", flipped, good.replace("fg_live_", "fg_test_"), unknown):
        response = api.call("GET", "/v1/entitlements/me", key=key, source_ip=pro_account.source_ip)
        body = assert_error(response, 401, "invalid_api_key")
        assert body["error"]["message"] == INVALID_API_KEY_MESSAGE
        assert response.headers["www-authenticate"] == 'Bearer realm="filegate"'
    assert api.call("GET", "/v1/entitlements/me", key=good, source_ip=pro_account.source_ip).status == 200
