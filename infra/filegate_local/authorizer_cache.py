"""API Gateway's authorizer cache: one authorizer result per (API, stage, authorizer, identity), for its TTL.

The identity is the tuple of the authorizer's identity source values (e.g. the Authorization header and
the source IP). While an entry lives, the authorizer is not invoked again for that identity; the cached
policy is evaluated against each request's method ARN.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

CacheKey = tuple[str, str, str, tuple[str, ...]]  # api id, stage, authorizer name, identity values


@dataclass(frozen=True)
class AuthorizerResult:
    """What an authorizer returned, validated: a principal, a policy and a context of plain values."""

    principal_id: str
    policy: Mapping[str, Any]
    context: Mapping[str, str]
    usage_identifier_key: str | None = None


class AuthorizerCache:
    """A bounded TTL cache of authorizer results; thread-safe."""

    def __init__(self, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[CacheKey, tuple[float, AuthorizerResult]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._clock = clock

    def get(self, key: CacheKey) -> AuthorizerResult | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                if entry is not None:
                    del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: CacheKey, result: AuthorizerResult, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return  # caching disabled for this authorizer
        with self._lock:
            self._entries[key] = (self._clock() + ttl_seconds, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
