"""Rate limits (docs/api.md §3): exact per-account minute windows, the RateLimit headers, 429 with Retry-After."""

from __future__ import annotations

import re
import time

from tests.service.harness import Response
from tests.service.helpers import Account, assert_error

RATE_LIMIT = re.compile(r'"minute";r=(\d+);t=(\d+)')


def _window() -> int:
    return int(time.time()) // 60


def _in_one_window(account: Account, requests: list[tuple[str, str]]) -> list[Response]:
    """The requests, all inside one fixed minute window (the counter's), starting afresh if one rolls over."""
    for _ in range(3):
        if 60 - int(time.time()) % 60 < 8:  # too little of this window left: take the next one
            time.sleep(60 - time.time() % 60 + 0.1)
        started = _window()
        responses = [account.call(method, path) for method, path in requests]
        if _window() == started:
            return responses
    raise AssertionError("three windows rolled over mid-test; the machine is far too slow")


def test_free_tier_allows_exactly_ten_requests_a_minute(free_account: Account) -> None:
    # The limit is per account, not per route or function: the files function counts the same minute.
    responses = _in_one_window(free_account, [("GET", "/v1/entitlements/me")] * 11 + [("GET", "/v1/files")])
    remaining: list[int] = []
    for response in responses[:10]:
        assert response.status == 200, response
        assert response.headers["ratelimit-policy"] == '"minute";q=10;w=60'
        match = RATE_LIMIT.fullmatch(response.headers["ratelimit"])
        assert match, response.headers["ratelimit"]
        remaining.append(int(match.group(1)))
        assert 0 < int(match.group(2)) <= 60
    assert remaining == list(range(9, -1, -1))

    limited = responses[10]
    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit"].startswith('"minute";r=0;')
    assert limited.headers["ratelimit-policy"] == '"minute";q=10;w=60'
    assert_error(responses[11], 429, "rate_limited")


def test_the_pro_tier_has_its_own_policy(pro_account: Account) -> None:
    response = pro_account.call("GET", "/v1/files")
    assert response.status == 200, response
    assert response.headers["ratelimit-policy"] == '"minute";q=600;w=60'
    assert RATE_LIMIT.fullmatch(response.headers["ratelimit"])


def test_errors_of_authenticated_requests_carry_the_headers_too(pro_account: Account) -> None:
    missing = pro_account.call("GET", "/v1/files/file_doesnotexist")
    assert_error(missing, 404, "not_found")
    assert missing.headers["ratelimit-policy"] == '"minute";q=600;w=60'
    assert RATE_LIMIT.fullmatch(missing.headers["ratelimit"])
