"""Monthly quota (docs/api.md §2-3): a hard stop at 1,000 on free, overage on pro, test keys and failures uncharged.

The month's counter is put near the limit through the data layer, as 999 earlier conversions would have.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.helpers import media_samples as media
from tests.service.helpers import Account, assert_error

FREE_MONTHLY_CONVERSIONS = 1_000  # docs/api.md §2, written out here on purpose: the test holds the code to it
PRO_MONTHLY_CONVERSIONS = 100_000


def _seconds_to_next_month() -> float:
    now = datetime.now(UTC)
    start = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return (start - now).total_seconds()


def test_free_tier_stops_at_exactly_one_thousand(free_account: Account) -> None:
    png = media.sample("png", 16, 12)
    free_account.set_conversions_this_month(FREE_MONTHLY_CONVERSIONS - 1)
    last = free_account.convert(png, "jpg")
    assert last.status == 200, last
    assert free_account.conversions_this_month() == FREE_MONTHLY_CONVERSIONS

    over = free_account.convert(png, "jpg")
    assert_error(over, 429, "quota_exceeded")
    retry_after = int(over.headers["retry-after"])
    assert abs(retry_after - _seconds_to_next_month()) < 120  # until the month rolls over (UTC)
    assert free_account.conversions_this_month() == FREE_MONTHLY_CONVERSIONS  # a refusal is not counted

    me = free_account.call("GET", "/v1/entitlements/me").json()
    assert me["limits"]["conversions_per_month"] == FREE_MONTHLY_CONVERSIONS
    assert me["usage"]["conversions"] == FREE_MONTHLY_CONVERSIONS and me["usage"]["remaining"] == 0


def test_pro_tier_counts_overage_and_allows_it(pro_account: Account) -> None:
    pro_account.set_conversions_this_month(PRO_MONTHLY_CONVERSIONS)
    response = pro_account.convert(media.sample("png", 16, 12), "webp")
    assert response.status == 200, response
    assert pro_account.conversions_this_month() == PRO_MONTHLY_CONVERSIONS + 1


def test_test_keys_are_never_charged_even_past_the_quota(free_account: Account) -> None:
    sandbox = free_account.create_key(name="sandbox", mode="test")
    free_account.set_conversions_this_month(FREE_MONTHLY_CONVERSIONS)
    response = free_account.with_key(sandbox["api_key"]).convert(media.sample("png", 16, 12), "jpg")
    assert response.status == 200, response
    assert free_account.conversions_this_month() == FREE_MONTHLY_CONVERSIONS
    assert_error(free_account.convert(media.sample("png", 16, 12), "jpg"), 429, "quota_exceeded")  # live key


def test_test_keys_are_capped_at_one_megabyte(pro_account: Account) -> None:
    sandbox = pro_account.with_key(pro_account.create_key(name="sandbox", mode="test")["api_key"])
    big = media.sample("png", 16, 12) + b"\0" * (1024 * 1024)
    assert_error(sandbox.convert(big, "jpg"), 413, "file_too_large")


def test_a_failed_conversion_is_not_charged(free_account: Account) -> None:
    truncated = media.sample("png", 64, 48)[:80]  # a PNG by its signature, undecodable
    assert_error(free_account.convert(truncated, "jpg"), 422, "conversion_failed")
    # Bytes that are no format (text would be a document: docs/api.md "Documents").
    assert_error(free_account.convert(b"plain bytes\x00 named like a picture", "jpg"), 415, "unsupported_media_type")
    assert free_account.conversions_this_month() == 0
    assert free_account.convert(media.sample("png", 16, 12), "jpg").status == 200
    assert free_account.conversions_this_month() == 1
