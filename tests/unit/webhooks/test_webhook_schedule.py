"""The retry schedule, its compression for tests, SQS hops, and the webhook settings."""

from __future__ import annotations

import pytest

from filegate.settings import SettingsError, WebhookPolicy
from filegate.webhooks.schedule import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_SECONDS,
    SQS_MAX_DELAY_SECONDS,
    is_due,
    next_delay,
    next_hop_delay,
    plan_retry,
)


def test_schedule_matches_api_md() -> None:
    # docs/api.md §5: after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead-lettered.
    assert [next_delay(n) for n in range(1, 9)] == [5, 300, 1800, 7200, 18000, 36000, 36000, None]
    assert MAX_ATTEMPTS == 8
    assert next_delay(100) is None
    with pytest.raises(ValueError):
        next_delay(0)


def test_scale_compresses() -> None:
    assert next_delay(1, scale=0.01) == pytest.approx(0.05)
    assert next_delay(7, scale=0.001) == pytest.approx(36.0)
    assert next_delay(3, scale=0) == 0
    assert next_delay(8, scale=0.001) is None
    with pytest.raises(ValueError):
        next_delay(1, scale=-1)


def test_hops_never_exceed_sqs_limit() -> None:
    now = 1_000_000.0
    assert next_hop_delay(now + 5, now) == 5
    assert next_hop_delay(now + 4.2, now) == 5  # ceil: never early
    assert next_hop_delay(now + 36_000, now) == SQS_MAX_DELAY_SECONDS
    assert next_hop_delay(now - 10, now) == 0
    assert is_due(now, now) and not is_due(now + 1, now)


def test_ten_hour_wait_is_forty_hops() -> None:
    now = 0.0
    plan = plan_retry(6, now)
    assert plan is not None and plan.attempt == 7 and plan.not_before == 36_000
    hops, clock = 0, now
    while not is_due(plan.not_before, clock):
        clock += next_hop_delay(plan.not_before, clock)
        hops += 1
    assert hops == 40 and clock == 36_000


def test_plan_retry() -> None:
    plan = plan_retry(1, 100.0)
    assert plan is not None
    assert (plan.attempt, plan.not_before, plan.delay_seconds) == (2, 105.0, 5)
    assert plan_retry(MAX_ATTEMPTS, 100.0) is None
    assert sum(RETRY_DELAYS_SECONDS) == 99_305  # ~27.6 h from first failure to dead letter


def test_settings_from_env() -> None:
    defaults = WebhookPolicy.from_env({})
    assert defaults.webhook_retry_scale == 1.0
    assert defaults.egress_allow_insecure_loopback is False
    assert defaults.webhook_timeout_seconds == 10.0
    local = WebhookPolicy.from_env(
        {
            "WEBHOOK_RETRY_SCALE": "0.001",
            "EGRESS_ALLOW_INSECURE_LOOPBACK": "true",
            "WEBHOOK_TIMEOUT_SECONDS": "1",
        }
    )
    assert (local.webhook_retry_scale, local.egress_allow_insecure_loopback) == (0.001, True)
    for bad in (
        {"WEBHOOK_RETRY_SCALE": "-1"},
        {"WEBHOOK_RETRY_SCALE": "nan"},
        {"WEBHOOK_TIMEOUT_SECONDS": "0"},
    ):
        with pytest.raises(SettingsError):
            WebhookPolicy.from_env(bad)
