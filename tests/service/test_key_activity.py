"""Per-key activity (docs/api.md §5 ``GET /v1/keys/{id}/activity``), end to end through the real handlers:
requests of every outcome, their activity lines as the request functions and the authorizer write them
(filtered by the template's own subscription pattern), rolled up by the activity function, then read back.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from filegate_local.log_subscriptions import matcher, subscription_event
from tests.helpers import media_samples as media
from tests.service.conftest import Stack
from tests.service.helpers import Account, assert_error, change_account, sign_up

ROLLUP = "ActivityFunction"
OUTCOMES = ("succeeded", "client_errors", "refused", "rate_limited", "quota_exceeded")


def _subscription_pattern(stack: Stack) -> str:
    patterns = {s.filter_pattern for s in stack.model.log_subscriptions if s.function == ROLLUP}
    assert len(patterns) == 1, patterns
    return patterns.pop()


def _roll_up(stack: Stack, captured: str) -> None:
    """What CloudWatch Logs does with the functions' output: the matching lines, to the rollup function."""
    matches = matcher(_subscription_pattern(stack))
    lines = [line for line in captured.splitlines() if matches(line)]
    assert lines, "no activity line was written"
    stack.functions.invoke(ROLLUP, subscription_event("/aws/lambda/test", [(0, line) for line in lines]))


def _totals(body: dict[str, Any]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for bucket in body["data"]:
        totals.update({name: value for name, value in bucket.items() if name != "start"})
    return totals


def _activity(account: Account, key_id: str, **query: str) -> dict[str, Any]:
    response = account.call("GET", f"/v1/keys/{key_id}/activity", query=query)
    assert response.status == 200, response
    body: dict[str, Any] = response.json()
    return body


def test_every_outcome_of_a_key_is_counted_and_read_back(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    account = sign_up(stack.api, "free")
    narrow = account.create_key(name="read-only", scopes=["files:read"])
    doomed = account.create_key(name="doomed")
    png = media.sample("png", 16, 12)
    seen: Counter[str] = Counter({"succeeded": 2})  # the two keys just created

    assert account.call("GET", "/v1/entitlements/me").status == 200
    seen["succeeded"] += 1
    assert_error(account.call("GET", "/v1/conversions/conv_nothere"), 404, "not_found")
    seen["client_errors"] += 1
    account.set_conversions_this_month(999)
    assert account.convert(png, "jpg").status == 200  # the month's 1,000th conversion (free's quota): 1 unit
    seen["succeeded"] += 1
    assert_error(account.convert(png, "jpg"), 429, "quota_exceeded")
    seen["quota_exceeded"] += 1
    assert account.call("DELETE", f"/v1/keys/{doomed['key_id']}").status == 204
    seen["succeeded"] += 1
    # Another key's refusals are its own: scope (by the function), revoked (by the authorizer).
    assert_error(account.with_key(narrow["api_key"]).call("GET", "/v1/keys"), 403, "insufficient_scope")
    assert_error(account.with_key(doomed["api_key"]).call("GET", "/v1/entitlements/me"), 401, "invalid_api_key")
    # The free tier's ten a minute: asked until refused (whichever minute this is, a refusal comes).
    for _ in range(25):
        status = account.call("GET", "/v1/entitlements/me").status
        seen["succeeded" if status == 200 else "rate_limited"] += 1
        if status == 429:
            break
    assert seen["rate_limited"] == 1

    _roll_up(stack, capsys.readouterr().out)
    change_account(stack.api, account.account_id, tier="pro")  # room to read it back this minute

    own = _activity(account, account.key_id)
    totals = _totals(own)
    assert {name: totals[name] for name in OUTCOMES} == {name: seen[name] for name in OUTCOMES}
    assert totals["requests"] == sum(seen.values())
    assert (totals["conversions"], totals["units"]) == (1, 1)
    assert own["last_used_ip"] == account.source_ip
    last_used = datetime.fromisoformat(own["last_used_at"].replace("Z", "+00:00"))
    assert datetime.now(UTC) - last_used < timedelta(minutes=5)

    refused_by_scope = _totals(_activity(account, narrow["key_id"]))
    assert (refused_by_scope["requests"], refused_by_scope["refused"]) == (1, 1)
    refused_when_revoked = _totals(_activity(account, doomed["key_id"]))
    assert (refused_when_revoked["requests"], refused_when_revoked["refused"]) == (1, 1)


def test_the_default_is_the_last_day_by_hour_with_empty_buckets_as_zeros(free_account: Account) -> None:
    body = _activity(free_account, free_account.key_id)
    assert body["key_id"] == free_account.key_id and body["granularity"] == "hour"
    assert len(body["data"]) in (24, 25)  # the hours the last 24 touch
    assert all(b["requests"] == 0 for b in body["data"])  # nothing rolled up for this key
    assert set(body["data"][0]) == {"start", "requests", *OUTCOMES, "conversions", "units"}
    assert body["last_used_at"] is None and body["last_used_ip"] is None


def test_days_over_a_range_and_at_most_ninety(free_account: Account) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=30)
    body = _activity(
        free_account, free_account.key_id, **{"from": start.isoformat(), "to": end.isoformat()}, granularity="day"
    )
    assert body["granularity"] == "day" and len(body["data"]) == 31
    too_long = {"from": (end - timedelta(days=91)).isoformat(), "to": end.isoformat()}
    refused = free_account.call("GET", f"/v1/keys/{free_account.key_id}/activity", query=too_long)
    assert "90 days" in assert_error(refused, 400, "invalid_request")["error"]["message"]
    backwards = {"from": end.isoformat(), "to": start.isoformat()}
    assert_error(
        free_account.call("GET", f"/v1/keys/{free_account.key_id}/activity", query=backwards), 400, "invalid_request"
    )
    unknown = free_account.call("GET", f"/v1/keys/{free_account.key_id}/activity", query={"granularity": "minute"})
    assert unknown.status in (400, 422), unknown


def test_another_accounts_key_is_not_found(stack: Stack, free_account: Account) -> None:
    other = sign_up(stack.api, "free")
    assert_error(free_account.call("GET", f"/v1/keys/{other.key_id}/activity"), 404, "not_found")
    assert_error(free_account.call("GET", "/v1/keys/key_nothere/activity"), 404, "not_found")


def test_it_needs_the_keys_manage_scope(free_account: Account) -> None:
    narrow = free_account.create_key(name="convert-only", scopes=["convert:write"])
    response = free_account.with_key(narrow["api_key"]).call("GET", f"/v1/keys/{narrow['key_id']}/activity")
    assert_error(response, 403, "insufficient_scope")


def test_an_activity_line_never_carries_the_raw_key(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    account = sign_up(stack.api, "free")
    account.call("GET", "/v1/entitlements/me")
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if matcher(_subscription_pattern(stack))(line)]
    assert lines and all(line["activity"]["key_id"] == account.key_id for line in lines)
    assert account.key not in out


WRITES = {"UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def test_recording_adds_no_write_to_a_request(stack: Stack, free_account: Account) -> None:
    """A key's request in a minute it already used writes once: the metering write (docs/api.md §5)."""
    from pynamodb.models import Model

    from filegate.db.counters import CounterRecord

    calls: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    client = CounterRecord._get_connection().connection.client
    clients = {id(client): client}
    for model in Model.__subclasses__():
        if getattr(model.Meta, "table_name", None):
            other = model._get_connection().connection.client
            clients[id(other)] = other
    for each in clients.values():
        each.meta.events.register("before-call.dynamodb", count)
    try:
        for _ in range(3):  # two requests inside one minute (a new minute records the key's last use once)
            minute = int(time.time()) // 60
            assert free_account.call("GET", "/v1/entitlements/me").status == 200
            calls.clear()
            assert free_account.call("GET", "/v1/entitlements/me").status == 200
            if int(time.time()) // 60 == minute:
                break
        writes = [name for name in calls if name in WRITES]
        assert writes == ["UpdateItem"], calls  # the rate counter's; the activity line is only a log line
    finally:
        for each in clients.values():
            each.meta.events.unregister("before-call.dynamodb", count)
