"""Webhooks: the signing secret, endpoints and the delivery log (pro tier)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from filegate.models.base import RequestBody, ResponseBody, Timestamp


class RegisterWebhookRequest(RequestBody):
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, max_length=10)


class SigningSecret(ResponseBody):
    """The signing secret as a listing shows it: never the secret itself."""

    secret_prefix: str
    created_at: Timestamp
    previous_secret_expires_at: Timestamp | None  # the rotated-out secret still signs until then


class WebhookSecret(SigningSecret):
    secret: Annotated[str, WithJsonSchema({"type": "string", "pattern": "^whsec_"})]


class Webhook(ResponseBody):
    id: str
    url: str
    events: list[str]
    created_at: Timestamp


class WebhookList(ResponseBody):
    data: list[Webhook]
    next_cursor: str | None  # always null: an account's few webhooks are one page
    signing_secret: SigningSecret | None


class Delivery(ResponseBody):
    id: str
    webhook_id: str
    event: str
    message_id: str | None
    conversion_id: str | None
    status: Literal["pending", "succeeded", "failed"]
    dead_lettered: bool
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    attempts: list[dict[str, Any]]
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    completed_at: Timestamp | None


class DeliveryList(ResponseBody):
    data: list[Delivery]
    next_cursor: str | None
