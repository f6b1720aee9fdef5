"""What a key may hand on (docs/api.md §5): no key creates, rotates or changes a key into one that can do more.

A key's authority is its scopes, its allowlist (none: any address), its mode (a test key makes only test
keys) and its expiry (none: never). A key it creates, rotates or changes must fit inside all four; the first
thing that does not is named in the 403. Pure: the caller's key record is read by the keys service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from filegate import errors
from filegate.clock import iso
from filegate.keys import ipallow


@dataclass(frozen=True)
class Authority:
    scopes: frozenset[str]
    allowed_ips: tuple[str, ...] = ()  # empty: any address
    test_only: bool = False
    expires_at: datetime | None = None  # None: never

    def lacks(
        self, *, scopes: Iterable[str], allowed_ips: Iterable[str], mode: str, expires_at: datetime | None
    ) -> str | None:
        """What a key with these properties could do that this authority cannot; None when it fits."""
        beyond = sorted(set(scopes) - self.scopes)
        if beyond:
            return f"scope {beyond[0]!r}"
        wider = ipallow.outside(allowed_ips, self.allowed_ips)
        if wider is not None:
            return f"access from {wider}, outside its own allowlist"
        if self.test_only and mode != "test":
            return "live mode, as a test key"
        if self.expires_at is not None and (expires_at is None or expires_at > self.expires_at):
            return f"an expiry later than its own ({iso(self.expires_at)})"
        return None

    def require(
        self,
        verb: str,
        *,
        scopes: Iterable[str],
        allowed_ips: Iterable[str],
        mode: str,
        expires_at: datetime | None,
    ) -> None:
        """403 insufficient_scope naming what is lacking, when a key so made would exceed this authority."""
        missing = self.lacks(scopes=scopes, allowed_ips=allowed_ips, mode=mode, expires_at=expires_at)
        if missing is not None:
            raise errors.InsufficientScope(f"This key may not {verb} a key with {missing}, which it lacks.")
