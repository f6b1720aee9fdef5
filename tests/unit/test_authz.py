"""Authorization in the functions: the route check, change stamps, sharded counters' arithmetic."""

from datetime import UTC, datetime, timedelta

import pytest

from filegate import errors
from filegate.context import AuthContext
from filegate.db import counters
from filegate.keys import freshness
from filegate.keys.access import check_route
from filegate.keys.stamps import Stamps
from filegate.metering import limits
from filegate.routes import ANY_KEY, PUBLIC, ROUTES, SCOPES, find
from filegate.tiers import TIERS

NOW = datetime(2026, 11, 26, 3, 30, 15, tzinfo=UTC)


def _caller(scopes=SCOPES, tier="pro", **extra):
    return AuthContext("acct_1", "key_1", "fg_live_abcd", tier, frozenset(scopes), False, **extra)


# ------------------------------------------------------------------ the route check


@pytest.mark.parametrize("scope", SCOPES)
def test_each_route_needs_exactly_its_scope(scope):
    caller = _caller([scope])
    for route in ROUTES:
        if route.scope == PUBLIC:
            continue
        if route.scope in (scope, ANY_KEY):
            check_route(caller, route.method, route.path)
        else:
            with pytest.raises(errors.InsufficientScope) as refused:
                check_route(caller, route.method, route.path)
            assert refused.value.message == f"This key may not call {route.method} {route.path}."


def test_suspended_account_may_call_nothing_whatever_its_scopes():
    for route in ROUTES:
        if route.scope != PUBLIC:
            with pytest.raises(errors.AccountSuspended, match="suspended"):
                check_route(_caller(suspended=True), route.method, route.path)


def test_tier_features_come_from_the_route_table():
    with pytest.raises(errors.TierRequired, match=r"free.*bulk"):
        check_route(_caller(tier="free"), "POST", "/v1/conversions/bulk")
    with pytest.raises(errors.TierRequired):
        check_route(_caller(tier="free"), "GET", "/v1/webhooks")
    check_route(_caller(tier="pro"), "GET", "/v1/webhooks")
    check_route(_caller(tier="enterprise"), "POST", "/v1/conversions/bulk")


def test_route_found_from_a_request_path_when_the_event_lacks_the_resource_path():
    assert find("delete", "/v1/keys/key_abc").path == "/v1/keys/{id}"
    assert find("POST", "/v1/keys/rotate").path == "/v1/keys/rotate"  # the literal beats {id}
    assert find("GET", "/v1/files/f_1/content").path == "/v1/files/{id}/content"
    assert find("GET", "/v1/nothing") is None
    with pytest.raises(errors.InsufficientScope):
        check_route(_caller(), "GET", "/v1/nothing")  # not in the table: never allowed


# ------------------------------------------------------------------ stamps


def test_stamps_newer_than_the_context_send_the_function_back_to_the_database():
    context = _caller(key_version=5, account_version=3)
    assert not Stamps().newer_than(context)
    assert not Stamps.from_item({"s:acct": 3, "s:k:key_1": 5, "s:k:key_2": 9}).newer_than(context)
    assert Stamps.from_item({"s:k:key_1": 6}).newer_than(context)
    assert Stamps.from_item({"s:acct": 4}).newer_than(context)
    # Collapsed key stamps concern every key of the account.
    assert Stamps.from_item({"s:keys": 6}).newer_than(context)
    assert Stamps.from_item({"s:keys": 6}).key("key_other") == 6


def test_unchanged_stamps_cost_no_read():
    context = _caller(key_version=5, account_version=3)
    outcome = freshness.current(context, Stamps.from_item({"s:acct": 3, "s:k:key_1": 5}), "127.0.0.1", NOW)
    assert outcome.context is context and not outcome.reread


def test_stamp_names_stay_within_what_dynamodb_and_the_collapse_expect():
    assert counters.key_stamp("key_abc") == "s:k:key_abc"
    assert counters.key_stamp("key_abc").startswith(counters.STAMP_PREFIX)
    assert counters.ACCOUNT_STAMP.startswith(counters.STAMP_PREFIX)
    assert counters.KEYS_STAMP.startswith(counters.STAMP_PREFIX)
    assert not counters.KEYS_STAMP.startswith(counters.KEY_STAMP_PREFIX)


# ------------------------------------------------------------------ tiers and shards


def test_enterprise_tier_is_api_md():
    enterprise = TIERS["enterprise"]
    assert enterprise.requests_per_minute == 600_000
    assert enterprise.conversions_per_month == 10_000_000 and not enterprise.hard_quota
    assert enterprise.max_file_bytes == 5 * 1024**3
    assert {"bulk", "webhooks"} <= enterprise.features
    # 10,000 requests a second over items that take about 1,000 writes a second each.
    assert enterprise.requests_per_minute / 60 / enterprise.rate_shards <= 1_000
    assert TIERS["free"].rate_shards == TIERS["pro"].rate_shards == 1
    assert TIERS["free"].quota_shards == TIERS["pro"].quota_shards == 1


@pytest.mark.parametrize("limit", [1, 7, 10, 600, 1_000, 600_000, 10_000_000])
@pytest.mark.parametrize("shards", [1, 3, 20])
def test_shard_caps_add_up_to_exactly_the_limit(limit, shards):
    caps = [limits.shard_cap(limit, shards, s) for s in range(shards)]
    assert sum(caps) == limit
    assert max(caps) - min(caps) <= 1


def test_shard_zero_is_the_unsharded_counter():
    assert limits.shard_id("rate#a#1", 0) == "rate#a#1"
    assert limits.shard_id("rate#a#1", 4) == "rate#a#1#4"


def test_a_change_is_stamped_on_every_rate_item_until_the_horizon():
    items = limits.rate_counters_between("acct_1", 20, NOW, NOW + timedelta(seconds=3600))
    ids = [counter_id for counter_id, _ in items]
    assert len(ids) == len(set(ids)) == 61 * 20
    window = int(NOW.timestamp()) // 60
    assert f"rate#acct_1#{window}" in ids and f"rate#acct_1#{window + 60}#19" in ids
    # Each stamped item expires with its window, like the counts written on it.
    assert all(expires > NOW for _, expires in items)
