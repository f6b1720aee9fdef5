"""Key safety, second round (issue 22; docs/api.md §1, §3 "change limit", §5 keys, §8 audit).

Each hole the review found gets a test here that failed on the code before the fix. Races are driven by the
code's named checkpoints (tests/service/races.py), faults are injected at them, and costs are the DynamoDB
calls the code really sends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from filegate import errors
from filegate.accounts import service as account_service
from filegate.db import keys as keys_table
from filegate.keys import keyformat
from filegate.keys import service as key_service
from filegate.metering import limits
from filegate.routes import SCOPES
from filegate.tiers import MAX_CHANGES_PER_MINUTE
from tests.service.harness import Response, ServiceApi
from tests.service.helpers import Account, _cache_horizon, assert_error, sign_up
from tests.service.races import Held, StamperClock, auth, context_of, dynamodb_calls, now, served

STAMPER = "StamperFunction"


def _key_ids(account: Account) -> set[str]:
    listed = account.call("GET", "/v1/keys", query={"limit": "100"})
    assert listed.status == 200, listed
    return {key["id"] for key in listed.json()["data"]}


def _audit_actions(account: Account) -> list[str]:
    listed = account.call("GET", "/v1/audit", query={"limit": "100"})
    assert listed.status == 200, listed
    return [entry["action"] for entry in listed.json()["data"]]


def _spend_change_limit(account: Account) -> None:
    """Spend what is left of this minute's changes (straight through the limit, as 60 quick PATCHes would)."""
    for _ in range(MAX_CHANGES_PER_MINUTE):
        try:
            limits.hit_change_limit(account.account_id, now())
        except errors.RateLimited:
            return


# ------------------------------------------------------------------ a successor that never dies


def test_a_key_in_its_rotation_grace_may_not_create_rotate_or_change_any_key(pro_account: Account) -> None:
    leaked = pro_account.create_key(name="leaked", scopes=["keys:manage", "files:read"])
    other = pro_account.create_key(name="other", scopes=["files:read"])
    successor = pro_account.call("POST", f"/v1/keys/{leaked['key_id']}/rotate", json_body={"grace_seconds": 3600})
    assert successor.status == 201, successor
    as_leaked = pro_account.with_key(leaked["api_key"])
    assert as_leaked.call("GET", "/v1/keys").status == 200  # in its grace it still works...
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/keys/rotate", {}),  # ...but may not rotate itself into a key without an end,
        ("POST", f"/v1/keys/{leaked['key_id']}/rotate", {}),
        ("POST", f"/v1/keys/{other['key_id']}/rotate", {}),  # nor rotate, create or change any other
        ("POST", "/v1/keys", {"name": "successor", "scopes": ["files:read"]}),
        ("PATCH", f"/v1/keys/{other['key_id']}", {"name": "renamed"}),
        ("PATCH", f"/v1/keys/{leaked['key_id']}", {"scopes": ["files:read"]}),
    ]
    for method, path, body in attempts:
        refused = assert_error(as_leaked.call(method, path, json_body=body), 403, "insufficient_scope")
        assert "grace" in refused["error"]["message"], (method, path, refused)
    assert _key_ids(pro_account) == {pro_account.key_id, leaked["key_id"], other["key_id"], successor.json()["key_id"]}
    assert as_leaked.call("DELETE", f"/v1/keys/{leaked['key_id']}").status == 204  # taking power away it may


# ------------------------------------------------------------------ PATCH decided on the key as written


def test_a_patch_is_decided_on_the_key_as_it_is_written_not_on_an_older_read(
    pro_account: Account, hooks: list[Callable[[str], None]]
) -> None:
    horizon = _cache_horizon(pro_account.api)
    owner = auth(context_of(pro_account, pro_account.key))
    narrow_key = pro_account.create_key(name="narrow", scopes=["keys:manage", "files:read"])
    narrow = auth(context_of(pro_account, narrow_key["api_key"]))
    target = pro_account.create_key(name="target", scopes=["files:read"], allowed_ips=[pro_account.source_ip])

    def change(caller: Any, **fields: Any) -> Callable[[], Any]:
        wanted = {"name": None, "scopes": None, "allowed_ips": None, **fields}
        return lambda: key_service.update_key(caller, target["key_id"], now=now(), horizon=horizon, **wanted)

    widening = Held(change(owner, scopes=list(SCOPES)), "versioned")
    hooks.append(widening.hook)
    widening.start()  # the owner's widening has its version, nothing written yet
    opening = Held(change(narrow, allowed_ips=[]), "versioned")
    hooks.append(opening.hook)
    opening.start()  # the narrow key read the target as narrow, checked it, took a newer version
    widening.release()
    assert widening.error is None, widening.error
    opening.release()

    assert isinstance(opening.error, errors.InsufficientScope), opening.error  # decided on the widened key
    record = keys_table.get(target["key_id"])
    assert record is not None and set(record.scopes) == set(SCOPES)
    assert list(record.allowed_ips) == [f"{pro_account.source_ip}/32"]  # the narrow key opened nothing


# ------------------------------------------------------------------ the change limit


def test_a_leaked_key_cannot_spend_the_change_limit_to_block_its_own_revocation(pro_account: Account) -> None:
    leaked = pro_account.create_key(name="leaked", scopes=["keys:manage"])
    as_leaked = pro_account.with_key(leaked["api_key"])
    renamed = 0
    while as_leaked.call("PATCH", f"/v1/keys/{leaked['key_id']}", json_body={"name": f"spent {renamed}"}).status == 200:
        renamed += 1
        assert renamed <= 2 * MAX_CHANGES_PER_MINUTE, "the change limit never bit"
    assert_error(
        as_leaked.call("PATCH", f"/v1/keys/{leaked['key_id']}", json_body={"name": "more"}), 429, "rate_limited"
    )

    assert pro_account.call("DELETE", f"/v1/keys/{leaked['key_id']}").status == 204  # the owner's revoke
    assert_error(as_leaked.call("GET", "/v1/keys"), 401, "invalid_api_key")
    assert "key.revoked" in _audit_actions(pro_account)


def _only_metering_writes(calls: list[Any]) -> list[Any]:
    """Writes other than each request's own metering (its rate item, its key's last use)."""
    return [c for c in calls if not c.counter_id.startswith(("rate#", "used#"))]


def test_calls_that_change_nothing_count_stamp_and_record_nothing(pro_account: Account) -> None:
    kept = pro_account.create_key(name="kept", scopes=["files:read", "convert:write"], allowed_ips=["192.0.2.0/24"])
    gone = pro_account.create_key(name="gone", scopes=["files:read"])
    assert pro_account.call("DELETE", f"/v1/keys/{gone['key_id']}").status == 204
    entries = len(_audit_actions(pro_account))

    with dynamodb_calls() as calls:
        for _ in range(3):
            assert pro_account.call("DELETE", f"/v1/keys/{gone['key_id']}").status == 204
        same = pro_account.call(
            "PATCH",
            f"/v1/keys/{kept['key_id']}",
            json_body={"name": "kept", "scopes": ["convert:write", "files:read"], "allowed_ips": ["192.0.2.0/24"]},
        )
    assert same.status == 200 and same.json()["name"] == "kept", same
    extra = _only_metering_writes(calls.writes(pro_account.account_id) + calls.writes(kept["key_id"]))
    extra += _only_metering_writes(calls.writes(gone["key_id"]))
    assert extra == [], [(c.operation, c.table, c.counter_id) for c in extra]  # no count, stamp or write
    assert len(_audit_actions(pro_account)) == entries


def test_webhook_secret_changes_count_toward_the_change_limit(pro_account: Account) -> None:
    window = int(now().timestamp()) // 60
    before = _changes_counted(pro_account, window)
    assert pro_account.call("POST", "/v1/webhooks/secret").status == 201
    if int(now().timestamp()) // 60 == window:  # the same minute: the secret's change was counted in it
        assert _changes_counted(pro_account, window) == before + 1
    _spend_change_limit(pro_account)
    refused = assert_error(pro_account.call("POST", "/v1/webhooks/secret"), 429, "rate_limited")
    assert str(MAX_CHANGES_PER_MINUTE) in refused["error"]["message"]


def _changes_counted(account: Account, window: int) -> int:
    from filegate.db import counters

    counter_id = f"changes#{account.account_id}#{window}"
    return counters.read_many([counter_id], now())[counter_id]


# ------------------------------------------------------------------ rotation, all or nothing


class Died(BaseException):
    """The change's Lambda was cut off here (a timeout): nothing after it runs, no handler catches it."""


@pytest.mark.parametrize("fails_at", ["stamp", "stamped"])
@pytest.mark.parametrize("grace", [0, 60])
def test_a_failed_rotation_leaves_the_old_key_as_it_was_and_the_new_key_dead(
    pro_account: Account,
    hooks: list[Callable[[str], None]],
    monkeypatch: pytest.MonkeyPatch,
    fails_at: str,
    grace: int,
) -> None:
    old = pro_account.create_key(name="rotated", scopes=["files:read"])
    cached = context_of(pro_account, old["api_key"])
    made: list[str] = []
    generate = keyformat.generate
    monkeypatch.setattr(keyformat, "generate", lambda mode: made.append(generate(mode)) or made[-1])

    def fail(name: str) -> None:  # the counters table unreachable, or the activation's write lost
        if name == fails_at:
            raise ConnectionError(f"injected at {name}")

    hooks.append(fail)
    failed = pro_account.call("POST", f"/v1/keys/{old['key_id']}/rotate", json_body={"grace_seconds": grace})
    hooks.clear()
    assert_error(failed, 500, "internal_error")
    (never_shown,) = made

    assert served(pro_account, old["api_key"], cached).status == 200  # the old key works as before,
    assert pro_account.call("GET", "/v1/entitlements/me", key=old["api_key"]).status == 200
    assert_error(pro_account.call("GET", "/v1/entitlements/me", key=never_shown), 401, "invalid_api_key")  # new: dead
    assert _key_ids(pro_account) == {pro_account.key_id, old["key_id"]}
    record = keys_table.get(old["key_id"])
    assert record is not None and record.revoked_at is None

    retry = pro_account.call("POST", f"/v1/keys/{old['key_id']}/rotate", json_body={"grace_seconds": grace})
    assert retry.status == 201, retry  # a retry simply rotates again
    assert pro_account.call("GET", "/v1/entitlements/me", key=retry.json()["api_key"]).status == 200
    old_now = served(pro_account, old["api_key"], cached)
    assert old_now.status == (401 if grace == 0 else 200), old_now


# ------------------------------------------------------------------ the stamper finishes only what is unfinished


def _stamps_of(calls: list[Any]) -> list[Any]:
    return [c for c in calls if c.is_stamp]


def test_a_change_its_caller_finished_costs_the_stamper_no_stamping(
    api: ServiceApi, stamper_clock: StamperClock, hooks: list[Callable[[str], None]]
) -> None:
    account = sign_up(api, "pro")
    key = account.create_key(name="patched", scopes=["files:read"])
    horizon = _cache_horizon(api)
    api.run_streams(STAMPER)  # what came before
    patch = Held(
        lambda: key_service.update_key(
            auth(context_of(account, account.key)),
            key["key_id"],
            name=None,
            scopes=["files:read", "convert:write"],
            allowed_ips=None,
            now=now(),
            horizon=horizon,
        ),
        "written",
    )
    hooks.append(patch.hook)
    patch.start()  # written (the stream has it), not stamped yet: the stamper reads it meanwhile

    with dynamodb_calls() as calls:

        def the_caller_finishes() -> None:  # while the stamper gives it time
            calls.paused = True
            patch.release()
            calls.paused = False

        stamper_clock.on_wait = the_caller_finishes
        given = api.run_streams(STAMPER)
    assert patch.error is None, patch.error
    assert any(r["dynamodb"]["Keys"]["key_id"]["S"] == key["key_id"] for r in given)
    stamped = [c for c in _stamps_of(calls.calls) if account.account_id in c.counter_id]
    assert stamped == [], f"the stamper stamped {len(stamped)} items of a change its caller finished"
    record = keys_table.get(key["key_id"])
    assert record is not None and record.published_version == record.version


def test_revoking_every_key_of_an_account_is_stamped_once(api: ServiceApi, stamper_clock: StamperClock) -> None:
    account = sign_up(api, "pro")
    keys = [account.create_key(name=f"k{i}", scopes=["files:read"]) for i in range(3)]
    api.run_streams(STAMPER)
    revoked = account_service.revoke_all_keys(account.account_id, now=now(), horizon=_cache_horizon(api))
    assert set(revoked) == {account.key_id, *(k["key_id"] for k in keys)}
    with dynamodb_calls() as calls:
        api.run_streams(STAMPER)
    stamped = [c for c in _stamps_of(calls.calls) if account.account_id in c.counter_id]
    assert stamped == [], f"the stamper stamped {len(stamped)} items again"
    assert stamper_clock.waited == 0  # published when the stream gave them: no wait either


def test_a_rotation_whose_caller_died_is_undone_by_the_stamper(
    api: ServiceApi, stamper_clock: StamperClock, hooks: list[Callable[[str], None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = sign_up(api, "pro")
    old = account.create_key(name="rotated", scopes=["files:read"])
    cached = context_of(account, old["api_key"])
    api.run_streams(STAMPER)
    made: list[str] = []
    generate = keyformat.generate
    monkeypatch.setattr(keyformat, "generate", lambda mode: made.append(generate(mode)) or made[-1])

    def cut_off(name: str) -> None:
        if name == "stamped":
            raise Died("the Lambda timed out before activating the new key")

    hooks.append(cut_off)
    with pytest.raises(Died):
        key_service.rotate_key(
            auth(context_of(account, account.key)),
            old["key_id"],
            grace_seconds=0,
            now=now(),
            horizon=_cache_horizon(api),
        )
    hooks.clear()
    (never_shown,) = made

    api.run_streams(STAMPER)
    assert stamper_clock.waited >= 1  # it gave the caller its time first
    assert served(account, old["api_key"], cached).status == 200  # the old key works as before
    assert account.call("GET", "/v1/entitlements/me", key=old["api_key"]).status == 200
    assert_error(account.call("GET", "/v1/entitlements/me", key=never_shown), 401, "invalid_api_key")
    assert _key_ids(account) == {account.key_id, old["key_id"]}
    retry = account.call("POST", f"/v1/keys/{old['key_id']}/rotate", json_body={"grace_seconds": 0})
    assert retry.status == 201, retry


# ------------------------------------------------------------------ allowlists, audit time, the 401, odd events


def test_an_ipv4_mapped_allowlist_entry_is_stored_and_matched_as_ipv4(pro_account: Account) -> None:
    fenced = pro_account.create_key(name="mapped", scopes=["files:read"], allowed_ips=["::ffff:198.51.100.9"])
    assert fenced["allowed_ips"] == ["198.51.100.9/32"]
    assert pro_account.call("GET", "/v1/files", key=fenced["api_key"], source_ip="198.51.100.9").status == 200
    assert_error(
        pro_account.call("GET", "/v1/files", key=fenced["api_key"], source_ip="198.51.100.10"), 401, "invalid_api_key"
    )
    patched = pro_account.call(
        "PATCH", f"/v1/keys/{fenced['key_id']}", json_body={"allowed_ips": ["::ffff:198.51.100.0/120"]}
    )
    assert patched.status == 200 and patched.json()["allowed_ips"] == ["198.51.100.0/24"], patched
    assert pro_account.call("GET", "/v1/files", key=fenced["api_key"], source_ip="198.51.100.10").status == 200


def test_an_operators_audit_entries_carry_the_services_time(api: ServiceApi, monkeypatch: pytest.MonkeyPatch) -> None:
    from filegate_admin import cli

    account = sign_up(api, "free")  # no operator's entry yet
    ahead = timedelta(minutes=10)  # the operator's laptop runs ten minutes fast

    def laptop_clock() -> datetime:
        return datetime.now(UTC) + ahead

    started = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr("filegate.clock.utcnow", laptop_clock)
    monkeypatch.setattr("filegate.audit.service.utcnow", laptop_clock, raising=False)
    target = cli.Target(outputs={}, region=api.region, environ={}, parameters=dict(api.parameters))
    for command in (["set-tier", account.account_id, "pro"], ["revoke-keys", account.account_id]):
        cli._operate(cli.parser().parse_args(command), target)
    monkeypatch.undo()
    ended = datetime.now(UTC)

    entries = [e for e in _audit_entries(account) if e["actor"]["type"] == "admin"]
    assert {e["action"] for e in entries} == {"account.updated", "key.revoked"}
    for entry in entries:
        at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        assert started <= at <= ended, entry  # when it happened by AWS's clock, not ten minutes on


def _audit_entries(account: Account) -> list[dict[str, Any]]:
    from filegate.audit import service as audit

    entries: list[dict[str, Any]] = audit.list_entries(account.account_id, limit=100, cursor=None, now=now())["data"]
    return entries


def _without_request_id(response: Response) -> bytes:
    return response.body.replace(str(response.json()["error"]["request_id"]).encode(), b"<request id>")


def test_a_functions_401_body_is_byte_identical_to_the_gateways(pro_account: Account) -> None:
    key = pro_account.create_key(name="revoked while cached", scopes=["files:read"])
    cached = context_of(pro_account, key["api_key"])
    assert pro_account.call("DELETE", f"/v1/keys/{key['key_id']}").status == 204
    by_function = served(pro_account, key["api_key"], cached)
    by_gateway = pro_account.call("GET", "/v1/entitlements/me", key=key["api_key"])
    assert (by_function.answered_by, by_gateway.answered_by) == ("KeysFunction", "gateway")
    assert by_function.status == by_gateway.status == 401
    assert _without_request_id(by_function) == _without_request_id(by_gateway), (by_function.body, by_gateway.body)
    assert by_function.headers["www-authenticate"] == by_gateway.headers["www-authenticate"]


@pytest.mark.parametrize(
    "event",
    [
        {"authorization": 5},
        [],
        ["Authorization", "Bearer fg_live_x"],
        "Bearer",
        None,
        {
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:1:api/prod/GET/v1/keys",
            "requestContext": None,
        },
        {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:api/prod/GET/v1/keys", "headers": []},
        {"type": "REQUEST", "methodArn": 7, "headers": {"Authorization": "Bearer x"}},
        {
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:1:api/prod/GET/v1/keys",
            "headers": {"authorization": 5},
        },
        {"methodArn": "arn:x", "headers": {"Authorization": "Bearer x"}, "requestContext": {"identity": None}},
    ],
)
def test_the_authorizer_answers_unauthorized_to_event_shapes_api_gateway_never_sends(
    api: ServiceApi, event: Any
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        api.functions.invoke("AuthorizerFunction", event)


# ------------------------------------------------------------------ what a cache hit costs


def test_a_cache_hit_on_a_sharded_tier_records_the_keys_last_use_once_a_minute(api: ServiceApi) -> None:
    account = sign_up(api, "enterprise")  # its minute is spread over 20 rate items
    cached = context_of(account, account.key)
    for _ in range(3):  # a try that straddles a minute boundary is played again
        minute = int(now().timestamp()) // 60
        with dynamodb_calls() as calls:
            for _ in range(60):
                assert served(account, account.key, cached).status == 200
        if int(now().timestamp()) // 60 != minute:
            continue
        last_uses = [c for c in calls.writes(account.key_id) if c.counter_id.startswith("used#")]
        writes = calls.writes(account.account_id) + last_uses
        assert len(last_uses) <= 1, f"{len(last_uses)} last-use writes in one minute"
        assert len(writes) <= 61, f"{len(writes)} writes for 60 requests"
        return
    pytest.fail("three tries straddled a minute boundary")


def test_each_key_of_an_account_still_records_its_own_last_use(api: ServiceApi) -> None:
    account = sign_up(api, "enterprise")
    other = account.create_key(name="other", scopes=["files:read"])
    assert account.call("GET", "/v1/files").status == 200
    assert account.call("GET", "/v1/files", key=other["api_key"]).status == 200
    listed = {k["id"]: k for k in account.call("GET", "/v1/keys").json()["data"]}
    assert listed[other["key_id"]]["last_used_at"] is not None
    assert listed[account.key_id]["last_used_at"] is not None
