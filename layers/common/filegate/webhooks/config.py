"""Webhook settings, read from the environment through ``filegate.settings`` like every other setting."""

from __future__ import annotations

import dataclasses

from filegate.settings import BaseSettings, SettingsError


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookSettings(BaseSettings):
    # < 1 compresses the retry schedule (tests, local stack); 0 retries at once.
    webhook_retry_scale: float = 1.0
    # The local stack only: allows http:// and loopback receivers. Never set in AWS.
    webhook_allow_insecure_loopback: bool = False
    webhook_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.webhook_retry_scale >= 0:  # also refuses NaN
            raise SettingsError("WEBHOOK_RETRY_SCALE must be 0 or more")
        if not 0 < self.webhook_timeout_seconds <= 30:
            raise SettingsError("WEBHOOK_TIMEOUT_SECONDS must be in (0, 30]")
