"""What API Gateway decides before any function runs: which resource and method a path is (the most
specific match wins, `{proxy+}` is greedy), whether the stage's throttling lets it through (MethodSettings
token buckets), and whether a Content-Type is one of the API's binary media types.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from filegate_local.model import ApiSpec, RouteSpec, ThrottleSpec

# --------------------------------------------------------------------------------------------- routing


@dataclass
class Resource:
    """An API Gateway resource (a path) with its methods."""

    api: ApiSpec
    path: str
    segments: tuple[str, ...]
    methods: dict[str, RouteSpec] = field(default_factory=dict)

    def bind(self, segments: list[str]) -> tuple[int, ...] | None:
        """Per-segment specificity if this resource matches (higher wins), else None."""
        score: list[int] = []
        for index, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                if index >= len(segments):
                    return None
                return (*score, 0)
            if index >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                score.append(1)
            elif pattern == segments[index]:
                score.append(2)
            else:
                return None
        return tuple(score) if len(segments) == len(self.segments) else None

    def parameters(self, segments: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for index, pattern in enumerate(self.segments):
            if pattern.endswith("+}"):
                values[pattern[1:-2]] = "/".join(segments[index:])
                break
            if pattern.startswith("{"):
                values[pattern[1:-1]] = segments[index]
        return values


class RouteTable:
    def __init__(self, apis: Iterable[ApiSpec]) -> None:
        self.resources: list[Resource] = []
        by_key: dict[tuple[str, str], Resource] = {}
        for api in apis:
            for route in api.routes:
                key = (api.logical_id, route.path)
                if key not in by_key:
                    segments = tuple(s for s in route.path.split("/") if s)
                    by_key[key] = Resource(api=api, path=route.path, segments=segments)
                    self.resources.append(by_key[key])
                if route.method in by_key[key].methods:
                    raise ValueError(f"duplicate route {route.method} {route.path}")
                by_key[key].methods[route.method] = route

    def match(self, path: str) -> tuple[Resource, dict[str, str]] | None:
        segments = [s for s in path.split("/") if s]
        best: tuple[tuple[int, ...], Resource] | None = None
        for resource in self.resources:
            score = resource.bind(segments)
            if score is not None and (best is None or score > best[0]):
                best = (score, resource)
        if best is None:
            return None
        return best[1], best[1].parameters(segments)


# --------------------------------------------------------------------------------------------- throttling


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(max(burst, 1))
        self.tokens, self.updated = self.capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _throttle_path(setting: ThrottleSpec) -> str:
    # MethodSettings write /a/b as /~1a~1b; "/*" means every resource.
    if setting.resource_path in ("/*", "*"):
        return "*"
    return (
        setting.resource_path[1:].replace("~1", "/")
        if setting.resource_path.startswith("/~1")
        else setting.resource_path
    )


class Throttles:
    def __init__(self, apis: Iterable[ApiSpec]) -> None:
        self._buckets: list[tuple[str, str, str, TokenBucket]] = [
            (api.logical_id, _throttle_path(s), s.method, TokenBucket(s.rate_limit, s.burst_limit))
            for api in apis
            for s in api.throttles
        ]

    def allow(self, api: str, resource_path: str, method: str) -> bool:
        specific = [b for a, p, m, b in self._buckets if a == api and p == resource_path and m in (method, "*")]
        stage_wide = [b for a, p, m, b in self._buckets if a == api and p == "*" and m in (method, "*")]
        buckets = specific or stage_wide
        return all(b.take() for b in buckets)


# --------------------------------------------------------------------------------------------- media types


def media_type_matches(content_type: str | None, patterns: Iterable[str]) -> bool:
    """Whether a Content-Type matches one of an API's binary media types (wildcards like image/* count)."""
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    for pattern in patterns:
        regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern.strip().lower())
        if re.fullmatch(regex, media):
            return True
    return False
