"""What the authorizer knows about a caller, and how it travels to the functions.

API Gateway hands the authorizer's ``context`` to every function as ``requestContext.authorizer``; REST
APIs deliver its values as strings, so everything here is written and read as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from filegate.clock import iso, parse_iso

# A dashboard session acting through the services names itself so (its key_id): it has no key record, and
# acts with its account's full authority.
SESSION_CALLER_PREFIX = "session:"


@dataclass(frozen=True)
class AuthContext:
    account_id: str
    key_id: str
    key_prefix: str
    tier: str
    scopes: frozenset[str]
    test_mode: bool
    # When the key stops working (rotation grace end, expiry): a cached policy must not outlive it.
    valid_until: datetime | None = None
    suspended: bool = False  # authenticated, but its account may call nothing (403 account_suspended)
    # The versions of the key and account records this was built from (filegate.keys.stamps).
    key_version: int = 0
    account_version: int = 0
    # The source IP is outside the key's allowlist. API Gateway caches a 401 for its (header, IP) identity
    # as long as an allow, and a widened allowlist must apply on the next request: so the authorizer allows,
    # marks the context, and the function refuses it after its freshness check (filegate.web.authorized).
    ip_denied: bool = False

    def to_authorizer_context(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "key_id": self.key_id,
            "key_prefix": self.key_prefix,
            "tier": self.tier,
            "scopes": " ".join(sorted(self.scopes)),
            "test_mode": "true" if self.test_mode else "false",
            "valid_until": iso(self.valid_until) or "",
            "suspended": "true" if self.suspended else "false",
            "key_version": str(self.key_version),
            "account_version": str(self.account_version),
            "ip_denied": "true" if self.ip_denied else "false",
        }

    @classmethod
    def from_authorizer_context(cls, context: dict[str, object] | None) -> AuthContext | None:
        """None when the request carries no (complete) authorizer context."""
        if not context:
            return None
        try:
            account_id = str(context["account_id"])
            key_id = str(context["key_id"])
        except KeyError:
            return None
        if not account_id or not key_id:
            return None
        valid_until_raw = str(context.get("valid_until") or "")
        return cls(
            account_id=account_id,
            key_id=key_id,
            key_prefix=str(context.get("key_prefix", "")),
            tier=str(context.get("tier", "free")),
            scopes=frozenset(str(context.get("scopes", "")).split()),
            test_mode=str(context.get("test_mode", "false")).lower() == "true",
            valid_until=parse_iso(valid_until_raw) if valid_until_raw else None,
            suspended=str(context.get("suspended", "false")).lower() == "true",
            key_version=_int(context.get("key_version")),
            account_version=_int(context.get("account_version")),
            ip_denied=str(context.get("ip_denied", "false")).lower() == "true",
        )

    @property
    def is_session(self) -> bool:
        return self.key_id.startswith(SESSION_CALLER_PREFIX)

    def is_valid_at(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until


def _int(value: object) -> int:
    """A version from the context; a missing or unreadable one is 0, which any stamp is newer than."""
    try:
        return int(str(value))
    except ValueError:
        return 0
