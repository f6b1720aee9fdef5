"""filegate-admin's operator commands against the local stack: show-account and revoke-keys."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from tests.helpers.local_api import Client, admin, assert_error, new_account

WHO = "/v1/entitlements/me"


def test_show_account_lists_keys_with_prefixes_last_use_and_usage(stack):
    account = new_account(stack)
    master = Client(stack.url).with_key(account["api_key"])
    second = master.post("/v1/keys", json={"name": "ci"}).json()
    assert master.get(WHO).status_code == 200

    # Global options after the subcommand, like the AWS CLI.
    out = io.StringIO()
    from filegate_admin.cli import main

    with redirect_stdout(out):
        main(["show-account", account["account_id"], "--local", "--state-dir", str(stack.state_dir)])
    shown = json.loads(out.getvalue())

    assert (shown["account_id"], shown["tier"], shown["status"]) == (account["account_id"], "pro", "active")
    keys = {k["id"]: k for k in shown["keys"]}
    assert set(keys) == {account["key_id"], second["key_id"]}
    assert keys[account["key_id"]]["key_prefix"] == account["api_key"][:12]
    assert keys[account["key_id"]]["last_used_at"] is not None  # it made a request this minute
    assert keys[second["key_id"]]["last_used_at"] is None
    assert all(k["active"] for k in keys.values())
    assert not any("hash" in field or field == "api_key" for k in keys.values() for field in k)
    assert shown["usage"]["conversions"] == 0
    assert shown["usage"]["remaining"] == shown["usage"]["limit"] == 100_000


def test_revoke_keys_kills_every_key_of_the_account_at_once(stack):
    account = new_account(stack)
    master = Client(stack.url).with_key(account["api_key"])
    second = master.post("/v1/keys", json={"name": "leaked"}).json()
    other = Client(stack.url).with_key(second["api_key"])
    assert master.get(WHO).status_code == 200 and other.get(WHO).status_code == 200  # both policies cached

    result = admin(stack, "revoke-keys", account["account_id"])
    assert sorted(result["revoked_key_ids"]) == sorted([account["key_id"], second["key_id"]])
    assert_error(master.get(WHO), 401, "invalid_api_key")
    assert_error(other.get(WHO), 401, "invalid_api_key")

    shown = admin(stack, "show-account", account["account_id"])
    assert not any(k["active"] for k in shown["keys"])
    assert admin(stack, "revoke-keys", account["account_id"])["revoked_key_ids"] == []  # idempotent


def test_unknown_account_is_a_clear_error(stack):
    for command in ("show-account", "revoke-keys"):
        with pytest.raises(SystemExit, match="not_found"):
            admin(stack, command, "acct_does_not_exist")
