"""Key and account changes under races, retries and partial failure (docs/api.md §1, §3, §5; issue 14).

Races are driven deterministically: one change is held at a named point inside it (filegate.keys.checkpoints)
while the other runs to the end, then released; both orders are played. Whether a change "took effect on the
next request" is always judged the way API Gateway would serve it: with an authorizer context built at the
worst moment and handed back as a cached policy, never by reading our own records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from filegate import errors
from filegate.accounts import service as account_service
from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import service as key_service
from filegate.tiers import MAX_CHANGES_PER_MINUTE
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, _cache_horizon, assert_error, change_account, sign_up
from tests.service.races import Held, auth, context_of, now, served

# ------------------------------------------------------------------ 1. versions never go backwards


@pytest.mark.parametrize("held_first", ["revoke", "patch"])
def test_a_revoke_racing_an_edit_wins_whatever_the_order(
    pro_account: Account, hooks: list[Callable[[str], None]], held_first: str
) -> None:
    api = pro_account.api
    horizon = _cache_horizon(api)
    caller = auth(context_of(pro_account, pro_account.key))
    target = pro_account.create_key(name="racing", scopes=["files:read", "convert:write"])

    def revoke() -> None:
        key_service.revoke_key(caller, target["key_id"], now=now(), horizon=horizon)

    def narrow() -> None:
        key_service.update_key(
            caller, target["key_id"], name=None, scopes=["files:read"], allowed_ips=None, now=now(), horizon=horizon
        )

    held_work, other = (revoke, narrow) if held_first == "revoke" else (narrow, revoke)
    held = Held(held_work, "versioned")
    hooks.append(held.hook)
    held.start()  # has taken its version, written nothing
    with contextlib.suppress(errors.Conflict):  # an edit that lost to the held, newer revoke
        other()
    # The caller forces a cache miss at will (another header spelling, another IP): a policy built now.
    between = api.authorizer_context("GET", "/v1/entitlements/me", key=target["api_key"], source_ip="198.51.100.7")
    held.release()
    # A held edit loses to the newer revoke (409, nothing written); a held revoke takes a newer version.
    assert held.error is None or isinstance(held.error, errors.Conflict), held.error

    record = keys_table.get(target["key_id"])
    assert record is not None and record.revoked_at is not None and record.revoked_at <= now()
    # Whatever was cached in between, the revoked key is refused on the next request.
    for cached in [c for c in (between,) if c is not None]:
        assert_error(served(pro_account, target["api_key"], cached, "198.51.100.7"), 401, "invalid_api_key")
    assert_error(pro_account.call("GET", "/v1/entitlements/me", key=target["api_key"]), 401, "invalid_api_key")


def test_an_edit_that_loses_to_a_newer_edit_is_a_conflict_and_writes_nothing(
    pro_account: Account, hooks: list[Callable[[str], None]]
) -> None:
    horizon = _cache_horizon(pro_account.api)
    caller = auth(context_of(pro_account, pro_account.key))
    target = pro_account.create_key(name="edited", scopes=["files:read", "convert:write"])

    def edit(scopes: list[str]) -> Callable[[], Any]:
        return lambda: key_service.update_key(
            caller, target["key_id"], name=None, scopes=scopes, allowed_ips=None, now=now(), horizon=horizon
        )

    held = Held(edit(["convert:write"]), "versioned")
    hooks.append(held.hook)
    held.start()
    edit(["files:read"])()  # took a newer version, written first
    held.release()
    assert isinstance(held.error, errors.Conflict), held.error
    record = keys_table.get(target["key_id"])
    assert record is not None and list(record.scopes) == ["files:read"]


def test_rotation_racing_a_narrowing_never_issues_the_wider_scopes(
    pro_account: Account, hooks: list[Callable[[str], None]]
) -> None:
    horizon = _cache_horizon(pro_account.api)
    caller = auth(context_of(pro_account, pro_account.key))
    target = pro_account.create_key(name="rotated", scopes=["files:read", "files:write", "convert:write"])
    rotation = Held(
        lambda: key_service.rotate_key(caller, target["key_id"], grace_seconds=0, now=now(), horizon=horizon),
        "versioned",
    )
    hooks.append(rotation.hook)
    rotation.start()  # has read the old key (three scopes) and built the new one
    key_service.update_key(
        caller, target["key_id"], name=None, scopes=["files:read"], allowed_ips=None, now=now(), horizon=horizon
    )
    issued = rotation.release()
    assert rotation.error is None, rotation.error
    assert list(issued.record.scopes) == ["files:read"]
    me = pro_account.call("GET", "/v1/entitlements/me", key=issued.raw_key)
    assert me.status == 200 and me.json()["key"]["scopes"] == ["files:read"], me


def test_new_keys_and_revoke_all_carry_the_accounts_current_version(api: ServiceApi) -> None:
    account = sign_up(api, "pro")
    created = account.create_key(name="versioned")
    seq = int(accounts_table.get(account.account_id).change_seq or 0)  # type: ignore[union-attr]
    record = keys_table.get(created["key_id"])
    assert record is not None and int(record.version or 0) == seq > 0
    account_service.revoke_all_keys(account.account_id, now=now(), horizon=_cache_horizon(api))
    after = accounts_table.get(account.account_id)
    assert after is not None and int(after.version or 0) == int(after.change_seq or 0) > seq


# ------------------------------------------------------------------ 2. a retry finishes a half-failed change


def failing_stamps(name: str) -> None:
    if name == "stamp":
        raise ConnectionError("injected: the counters table is unreachable")


# A rotation is all or nothing rather than finished by its retry: tests/service/test_key_safety.py.


@pytest.mark.parametrize("change", ["revoke", "revoke-all", "suspend", "tier"])
def test_every_change_whose_stamping_failed_is_finished_by_its_retry(
    api: ServiceApi, hooks: list[Callable[[str], None]], change: str
) -> None:
    account = sign_up(api, "pro")
    victim = account.create_key(name="victim", scopes=["files:read", "keys:manage"])
    cached = context_of(account, victim["api_key"])
    horizon = _cache_horizon(api)

    def make_change() -> None:
        if change == "revoke":
            key_service.revoke_key(auth(context_of(account, account.key)), victim["key_id"], now=now(), horizon=horizon)
        elif change == "revoke-all":
            account_service.revoke_all_keys(account.account_id, now=now(), horizon=horizon)
        elif change == "suspend":
            account_service.set_account_status(account.account_id, "suspended", now=now(), horizon=horizon)
        else:
            account_service.set_account_tier(account.account_id, "free", now=now(), horizon=horizon)

    hooks.append(failing_stamps)
    with pytest.raises(errors.InternalError):
        make_change()
    hooks.clear()
    make_change()  # the operator's or client's retry
    response = served(account, victim["api_key"], cached)
    if change in ("revoke", "revoke-all"):
        assert_error(response, 401, "invalid_api_key")
    elif change == "suspend":
        assert_error(
            account.call("GET", "/v1/keys", key=victim["api_key"], cached_authorizer=cached), 403, "account_suspended"
        )
    else:
        assert response.status == 200 and response.json()["tier"] == "free", response


# ------------------------------------------------------------------ 3. a tier change between a revoke's read and write


def test_a_revoke_racing_an_upgrade_to_more_shards_stamps_them_all(
    api: ServiceApi, hooks: list[Callable[[str], None]]
) -> None:
    account = sign_up(api, "pro")  # one rate shard
    victim = account.create_key(name="victim", scopes=["files:read"])
    horizon = _cache_horizon(api)
    caller = auth(context_of(account, account.key))
    revoke = Held(lambda: key_service.revoke_key(caller, victim["key_id"], now=now(), horizon=horizon), "versioned")
    hooks.append(revoke.hook)
    revoke.start()  # read the account as pro: one shard
    change_account(api, account.account_id, tier="enterprise")  # twenty shards from now on
    cached = context_of(account, victim["api_key"])  # an enterprise-tier policy of the still-live key
    assert cached["tier"] == "enterprise"
    revoke.release()
    assert revoke.error is None, revoke.error
    allowed = sum(served(account, victim["api_key"], cached).status == 200 for _ in range(60))
    assert allowed == 0, f"the revoked key was allowed on {allowed} of 60 requests"


# ------------------------------------------------------------------ 4. the operators' clock


def test_filegate_admin_changes_by_the_services_clock_not_the_workstations(
    api: ServiceApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filegate_admin import cli

    account = sign_up(api, "pro")
    cached = context_of(account, account.key)
    ahead = timedelta(minutes=10)  # a laptop ten minutes fast would revoke "in ten minutes"
    monkeypatch.setattr("filegate.clock.utcnow", lambda: datetime.now(UTC) + ahead)
    target = cli.Target(outputs={}, region=api.region, environ={}, parameters=dict(api.parameters))
    args = cli.parser().parse_args(["revoke-keys", account.account_id])
    result = cli._operate(args, target)
    monkeypatch.undo()
    assert result["revoked_key_ids"] == [account.key_id]
    record = keys_table.get(account.key_id)
    assert record is not None and record.revoked_at is not None
    assert abs((record.revoked_at - datetime.now(UTC)).total_seconds()) < 10
    assert_error(served(account, account.key, cached), 401, "invalid_api_key")


# ------------------------------------------------------------------ 5. no key makes a stronger key


def test_no_key_makes_a_stronger_key(pro_account: Account) -> None:
    manager = pro_account.create_key(name="manager", scopes=["keys:manage"])
    # Rotating the account's full key would hand a keys:manage-only key every scope.
    body = assert_error(
        pro_account.call("POST", f"/v1/keys/{pro_account.key_id}/rotate", key=manager["api_key"], json_body={}),
        403,
        "insufficient_scope",
    )
    assert "rotate" in body["error"]["message"] and "scope" in body["error"]["message"]
    assert_error(
        pro_account.call("POST", "/v1/keys", key=manager["api_key"], json_body={"name": "x", "scopes": ["files:read"]}),
        403,
        "insufficient_scope",
    )
    assert_error(
        pro_account.call(
            "PATCH", f"/v1/keys/{manager['key_id']}", key=manager["api_key"], json_body={"scopes": ["files:read"]}
        ),
        403,
        "insufficient_scope",
    )

    tester = pro_account.create_key(name="tester", scopes=["keys:manage", "files:read"], mode="test")
    body = assert_error(
        pro_account.call(
            "POST", "/v1/keys", key=tester["api_key"], json_body={"name": "live", "scopes": ["files:read"]}
        ),
        403,
        "insufficient_scope",
    )
    assert "live" in body["error"]["message"]
    made = pro_account.call(
        "POST", "/v1/keys", key=tester["api_key"], json_body={"name": "t", "scopes": ["files:read"], "mode": "test"}
    )
    assert made.status == 201 and made.json()["api_key"].startswith("fg_test_"), made

    fenced = pro_account.create_key(name="fenced", scopes=["keys:manage", "files:read"], allowed_ips=["198.18.0.0/15"])
    body = assert_error(
        pro_account.call(
            "POST", "/v1/keys", key=fenced["api_key"], json_body={"name": "open", "scopes": ["files:read"]}
        ),
        403,
        "insufficient_scope",
    )
    assert "allowlist" in body["error"]["message"]
    inside = pro_account.call(
        "POST",
        "/v1/keys",
        key=fenced["api_key"],
        json_body={"name": "in", "scopes": ["files:read"], "allowed_ips": [pro_account.source_ip]},
    )
    assert inside.status == 201, inside
    assert_error(
        pro_account.call(
            "PATCH",
            f"/v1/keys/{inside.json()['key_id']}",
            key=fenced["api_key"],
            json_body={"allowed_ips": ["0.0.0.0/0"]},
        ),
        403,
        "insufficient_scope",
    )

    expiring = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    brief = pro_account.create_key(name="brief", scopes=["keys:manage", "files:read"], expires_at=expiring)
    body = assert_error(
        pro_account.call(
            "POST", "/v1/keys", key=brief["api_key"], json_body={"name": "forever", "scopes": ["files:read"]}
        ),
        403,
        "insufficient_scope",
    )
    assert "expiry" in body["error"]["message"]


# ------------------------------------------------------------------ 6. widening an allowlist


def test_widening_an_allowlist_applies_on_the_next_request_and_outsiders_spend_nothing(api: ServiceApi) -> None:
    account = sign_up(api, "free")  # 10 requests a minute
    fenced = account.create_key(name="fenced", scopes=["files:read"], allowed_ips=[account.source_ip])
    outsider_ip = "192.0.2.77"
    cached_outside = context_of(account, fenced["api_key"], outsider_ip)  # what API Gateway caches for (key, IP)
    for _ in range(15):
        assert_error(served(account, fenced["api_key"], cached_outside, outsider_ip), 401, "invalid_api_key")
    inside = account.call("GET", "/v1/entitlements/me", key=fenced["api_key"])
    assert inside.status == 200, inside  # the outsider's 15 requests spent none of the 10
    patched = account.call(
        "PATCH", f"/v1/keys/{fenced['key_id']}", json_body={"allowed_ips": [account.source_ip, outsider_ip]}
    )
    assert patched.status == 200, patched
    assert served(account, fenced["api_key"], cached_outside, outsider_ip).status == 200
    narrowed = account.call("PATCH", f"/v1/keys/{fenced['key_id']}", json_body={"allowed_ips": [account.source_ip]})
    assert narrowed.status == 200, narrowed
    assert_error(served(account, fenced["api_key"], cached_outside, outsider_ip), 401, "invalid_api_key")


# ------------------------------------------------------------------ 7. cost and limits


def test_last_use_is_kept_to_the_minute_by_the_metering_write(pro_account: Account) -> None:
    key = pro_account.create_key(name="used", scopes=["files:read"])
    listed = {k["id"]: k for k in pro_account.call("GET", "/v1/keys").json()["data"]}
    assert listed[key["key_id"]]["last_used_at"] is None
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    assert pro_account.call("GET", "/v1/files", key=key["api_key"]).status == 200
    listed = {k["id"]: k for k in pro_account.call("GET", "/v1/keys").json()["data"]}
    used = datetime.fromisoformat(listed[key["key_id"]]["last_used_at"].replace("Z", "+00:00"))
    assert before <= used <= datetime.now(UTC)
    assert used.second == 0


def test_changes_to_keys_are_limited_per_account_per_minute(api: ServiceApi) -> None:
    from filegate.metering import limits

    account = sign_up(api, "pro")  # 600 requests a minute: the change limit bites first
    key = account.create_key(name="renamed")
    for _ in range(3):  # a try that straddles a minute boundary is played again
        minute = int(now().timestamp()) // 60
        admitted = 0
        try:
            for _ in range(MAX_CHANGES_PER_MINUTE + 1):
                limits.hit_change_limit(account.account_id, now())
                admitted += 1
        except errors.RateLimited:
            pass
        over = account.call("PATCH", f"/v1/keys/{key['key_id']}", json_body={"name": "over"})
        if int(now().timestamp()) // 60 != minute:
            continue
        # The create above was one change of this minute (unless it fell in the previous one).
        assert admitted in (MAX_CHANGES_PER_MINUTE - 1, MAX_CHANGES_PER_MINUTE), admitted
        body = assert_error(over, 429, "rate_limited")
        assert over.headers.get("retry-after") and str(MAX_CHANGES_PER_MINUTE) in body["error"]["message"]
        record = keys_table.get(key["key_id"])
        assert record is not None and record.name == "renamed"  # refused before anything was written
        return
    pytest.fail("three tries straddled a minute boundary")
