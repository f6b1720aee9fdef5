"""Keys, the account's plan and usage, and the audit log (docs/api.md §5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from filegate_client._transport import Transport
from filegate_client._values import compact, iso, seg
from filegate_client.types import Entitlements, FreeKey, Key, KeyActivity, NewKey, Page, Usage


class KeysAndAccount(Transport):
    """The keys and account methods of FileGate."""

    def create_free_key(self, email: str) -> FreeKey:
        return self._json("POST", "/v1/keys/free", json={"email": email}, auth=False)  # type: ignore[no-any-return]

    def list_keys(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        return self._json("GET", "/v1/keys", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_keys(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/keys", page_size)

    def create_key(
        self,
        name: str,
        *,
        scopes: list[str] | None = None,
        allowed_ips: list[str] | None = None,
        expires_at: str | None = None,
        mode: str | None = None,
    ) -> NewKey:
        body = {"name": name, "scopes": scopes, "allowed_ips": allowed_ips, "expires_at": expires_at, "mode": mode}
        return self._json("POST", "/v1/keys", json=compact(body))  # type: ignore[no-any-return]

    def update_key(
        self,
        key_id: str,
        *,
        name: str | None = None,
        scopes: list[str] | None = None,
        allowed_ips: list[str] | None = None,
    ) -> Key:
        body = compact({"name": name, "scopes": scopes, "allowed_ips": allowed_ips})
        return self._json("PATCH", f"/v1/keys/{seg(key_id)}", json=body)  # type: ignore[no-any-return]

    def revoke_key(self, key_id: str) -> None:
        self.request("DELETE", f"/v1/keys/{seg(key_id)}")

    def rotate_key(self, key_id: str | None = None, *, grace_seconds: int = 0) -> NewKey:
        """Rotate ``key_id``, or the calling key when None. The new raw key is in ``api_key``."""
        path = "/v1/keys/rotate" if key_id is None else f"/v1/keys/{seg(key_id)}/rotate"
        return self._json("POST", path, json={"grace_seconds": grace_seconds})  # type: ignore[no-any-return]

    def key_activity(
        self,
        key_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        granularity: str | None = None,
    ) -> KeyActivity:
        """A key's requests by outcome, conversions and units per hour or day (needs ``keys:manage``);
        by default the last 24 hours by hour; at most 90 days."""
        params = {"from": iso(start), "to": iso(end), "granularity": granularity}
        return self._json("GET", f"/v1/keys/{seg(key_id)}/activity", params=params)  # type: ignore[no-any-return]

    def entitlements(self) -> Entitlements:
        return self._json("GET", "/v1/entitlements/me")  # type: ignore[no-any-return]

    def usage(self, *, from_month: str | None = None, to_month: str | None = None) -> Usage:
        return self._json("GET", "/v1/usage", params={"from": from_month, "to": to_month})  # type: ignore[no-any-return]

    def audit(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        """One page of the account's audit log, newest first (needs ``keys:manage``)."""
        return self._json("GET", "/v1/audit", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_audit(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/audit", page_size)
