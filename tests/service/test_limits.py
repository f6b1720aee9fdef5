"""Rate limits (API.md §3): exact per-account minute windows, the RateLimit headers, 429 with Retry-After."""

from __future__ import annotations

import re
import time

from tests.service.helpers import Account, assert_error

RATE_LIMIT = re.compile(r'"minute";r=(\d+);t=(\d+)')


def _wait_for_a_fresh_window(account: Account, needed_seconds: int) -> None:
    """Start at the beginning of a minute window when the current one ends too soon for the test."""
    seconds_left = 60 - int(time.time()) % 60
    if seconds_left < needed_seconds:
        time.sleep(seconds_left + 0.2)


def test_free_tier_allows_exactly_ten_requests_a_minute(free_account: Account) -> None:
    _wait_for_a_fresh_window(free_account, needed_seconds=6)
    remaining: list[int] = []
    for _ in range(10):
        response = free_account.call("GET", "/v1/entitlements/me")
        assert response.status == 200, response
        assert response.headers["ratelimit-policy"] == '"minute";q=10;w=60'
        match = RATE_LIMIT.fullmatch(response.headers["ratelimit"])
        assert match, response.headers["ratelimit"]
        remaining.append(int(match.group(1)))
        assert 0 < int(match.group(2)) <= 60
    assert remaining == list(range(9, -1, -1))

    limited = free_account.call("GET", "/v1/entitlements/me")
    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit"].startswith('"minute";r=0;')
    assert limited.headers["ratelimit-policy"] == '"minute";q=10;w=60'
    # The limit is per account, not per route or function: the files function refuses it too.
    assert_error(free_account.call("GET", "/v1/files"), 429, "rate_limited")


def test_limits_are_per_account(free_account: Account, pro_account: Account) -> None:
    response = pro_account.call("GET", "/v1/files")
    assert response.status == 200, response
    assert response.headers["ratelimit-policy"] == '"minute";q=600;w=60'
    assert RATE_LIMIT.fullmatch(response.headers["ratelimit"])


def test_errors_of_authenticated_requests_carry_the_headers_too(pro_account: Account) -> None:
    missing = pro_account.call("GET", "/v1/files/file_doesnotexist")
    assert_error(missing, 404, "not_found")
    assert missing.headers["ratelimit-policy"] == '"minute";q=600;w=60'
    assert RATE_LIMIT.fullmatch(missing.headers["ratelimit"])
