"""Webhooks (pro): the signing secret, endpoints, deliveries (docs/api.md §5)."""

from __future__ import annotations

from typing import Any

from filegate_client._transport import Transport
from filegate_client._values import compact, seg
from filegate_client.errors import NotFoundError
from filegate_client.types import Page, Webhook


class Webhooks(Transport):
    """The webhook methods of FileGate."""

    def get_webhook_secret(self) -> dict[str, Any] | None:
        """The current signing secret (``{"secret", "created_at", ...}``; audited), or None when there is none
        yet. Never rotates it: a listener uses the secret the account's receivers already verify with."""
        try:
            return self._json("GET", "/v1/webhooks/secret")  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def create_webhook_secret(self) -> dict[str, Any]:
        """Create or rotate the signing secret (``whsec_…``, shown once; both sign for 24 h after a rotation)."""
        return self._json("POST", "/v1/webhooks/secret")  # type: ignore[no-any-return]

    def create_webhook(self, url: str, *, events: list[str] | None = None) -> Webhook:
        body = compact({"url": url, "events": events})
        return self._json("POST", "/v1/webhooks", json=body)  # type: ignore[no-any-return]

    def list_webhooks(self) -> Page:
        return self._json("GET", "/v1/webhooks")  # type: ignore[no-any-return]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/v1/webhooks/{seg(webhook_id)}")

    def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Send a ``webhook.test`` event to the endpoint; the delivery (202)."""
        return self._json("POST", f"/v1/webhooks/{seg(webhook_id)}/test")  # type: ignore[no-any-return]

    def list_webhook_deliveries(self, webhook_id: str, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        return self._json(  # type: ignore[no-any-return]
            "GET", f"/v1/webhooks/{seg(webhook_id)}/deliveries", params={"limit": limit, "cursor": cursor}
        )
