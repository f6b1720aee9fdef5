"""Every route of the API, its function, and what it takes to call it: the one source of truth.

Each function checks a request against it before any work (filegate.keys.access: scope, tier feature,
account status); the authorizer's policy allows the whole API. The docs and tests read it, and a test
holds template.yaml's events to it.
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = (
    "convert:write",
    "files:read",
    "files:write",
    "files:delete",
    "keys:manage",
    "webhooks:manage",
)

PUBLIC = "public"  # no key at all
ANY_KEY = "any"  # any valid key, whatever its scopes


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /v1/files/{id}
    function: str  # folder under functions/
    scope: str  # one of SCOPES, or ANY_KEY, or PUBLIC
    feature: str | None = None  # a tier-gated feature, checked in the function

    @property
    def segments(self) -> list[str]:
        return self.path.strip("/").split("/")

    @property
    def resource_pattern(self) -> str:
        """The route as an execute-api ARN tail: path parameters become wildcards."""
        parts = ["*" if p.startswith("{") else p for p in self.path.strip("/").split("/")]
        return f"{self.method}/{'/'.join(parts)}"


ROUTES: tuple[Route, ...] = (
    # keys and account
    Route("GET", "/v1/health", "keys", PUBLIC),
    Route("GET", "/v1/openapi.json", "keys", PUBLIC),
    Route("POST", "/v1/keys/free", "keys", PUBLIC),
    Route("POST", "/v1/integrations/github/secret-scanning", "secretscanning", PUBLIC),  # signed by GitHub
    Route("GET", "/v1/keys", "keys", "keys:manage"),
    Route("POST", "/v1/keys", "keys", "keys:manage"),
    Route("PATCH", "/v1/keys/{id}", "keys", "keys:manage"),
    Route("DELETE", "/v1/keys/{id}", "keys", "keys:manage"),
    Route("POST", "/v1/keys/{id}/rotate", "keys", "keys:manage"),
    Route("GET", "/v1/keys/{id}/activity", "keys", "keys:manage"),
    Route("POST", "/v1/keys/rotate", "keys", ANY_KEY),
    Route("GET", "/v1/entitlements/me", "keys", ANY_KEY),
    Route("GET", "/v1/usage", "keys", ANY_KEY),
    Route("GET", "/v1/audit", "keys", "keys:manage"),
    # conversion
    Route("GET", "/v1/formats", "convert", PUBLIC),
    Route("POST", "/v1/convert", "convert", "convert:write"),
    Route("POST", "/v1/compress", "convert", "convert:write"),
    Route("POST", "/v1/conversions", "convert", "convert:write"),
    Route("POST", "/v1/conversions/bulk", "convert", "convert:write", feature="bulk"),
    Route("GET", "/v1/conversions", "convert", ANY_KEY),
    Route("GET", "/v1/conversions/{id}", "convert", ANY_KEY),
    # files
    Route("POST", "/v1/files", "files", "files:write"),
    Route("POST", "/v1/files/import", "files", "files:write"),
    Route("POST", "/v1/files/{id}/complete", "files", "files:write"),
    Route("GET", "/v1/files", "files", "files:read"),
    Route("GET", "/v1/files/{id}", "files", "files:read"),
    Route("GET", "/v1/files/{id}/content", "files", "files:read"),
    Route("DELETE", "/v1/files/{id}", "files", "files:delete"),
    # webhooks (pro)
    Route("POST", "/v1/webhooks/secret", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("GET", "/v1/webhooks/secret", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("POST", "/v1/webhooks", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("GET", "/v1/webhooks", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("DELETE", "/v1/webhooks/{id}", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("POST", "/v1/webhooks/{id}/test", "webhooks", "webhooks:manage", feature="webhooks"),
    Route("GET", "/v1/webhooks/{id}/deliveries", "webhooks", "webhooks:manage", feature="webhooks"),
)


# The dashboard (docs/api.md §7): routes with no authorizer; the dashboard checks its own sessions, and each
# action passes the route-table check of the API route it stands for. Not part of the API's description.
SESSION = "session"
DASHBOARD_ROUTES: tuple[Route, ...] = tuple(
    Route(method, path, "dashboard", SESSION)
    for method, path in (
        ("GET", "/dashboard"),
        ("GET", "/dashboard/login"),
        ("POST", "/dashboard/login"),
        ("POST", "/dashboard/login/code"),
        ("GET", "/dashboard/login/confirm"),
        ("POST", "/dashboard/login/confirm"),
        ("POST", "/dashboard/logout"),
        ("GET", "/dashboard/keys"),
        ("POST", "/dashboard/keys"),
        ("GET", "/dashboard/keys/{id}"),
        ("POST", "/dashboard/keys/{id}/rotate"),
        ("GET", "/dashboard/keys/{id}/revoke"),
        ("POST", "/dashboard/keys/{id}/revoke"),
        ("GET", "/dashboard/usage"),
        ("GET", "/dashboard/usage.csv"),
        ("GET", "/dashboard/conversions"),
        ("GET", "/dashboard/conversions/{id}/download"),
        ("GET", "/dashboard/webhooks"),
        ("POST", "/dashboard/webhooks"),
        ("POST", "/dashboard/webhooks/secret"),
        ("POST", "/dashboard/webhooks/secret/reveal"),
        ("POST", "/dashboard/webhooks/{id}/delete"),
        ("POST", "/dashboard/webhooks/{id}/test"),
        ("POST", "/dashboard/webhooks/{id}/deliveries/{delivery_id}/resend"),
        ("GET", "/dashboard/audit"),
        ("GET", "/dashboard/sessions"),
        ("POST", "/dashboard/sessions/end-others"),
        ("POST", "/dashboard/sessions/{id}/end"),
        ("GET", "/dashboard/static/{name}"),
        ("ANY", "/dashboard/{proxy+}"),  # any other path: the dashboard's own 404 page
    )
)

_BY_METHOD_AND_PATH = {(r.method, r.path): r for r in ROUTES}


def is_catch_all(path: str) -> bool:
    """A greedy ``{proxy+}`` resource: a route of its own (the dashboard's 404 page), where any other ``ANY``
    event only brings a path's other methods to its function for the 405."""
    return "{proxy+}" in path


def _matches(route: Route, parts: list[str]) -> bool:
    """A request's own path (split in segments) falls under this route's resource path."""
    return len(route.segments) == len(parts) and all(
        t.startswith("{") or t == p for t, p in zip(route.segments, parts, strict=True)
    )


def find(method: str, path: str) -> Route | None:
    """The route of a method and a path: API Gateway's resource path (``/v1/files/{id}``), or a request's
    own path (``/v1/files/f_1``) when the event has no resource path; literal segments win."""
    method = method.upper()
    exact = _BY_METHOD_AND_PATH.get((method, path))
    if exact is not None:
        return exact
    parts = path.strip("/").split("/")
    candidates = [r for r in ROUTES if r.method == method and _matches(r, parts)]
    # /v1/keys/rotate beats /v1/keys/{id}: fewest parameters first.
    return min(candidates, key=lambda r: sum(t.startswith("{") for t in r.segments), default=None)


def methods_of(path: str) -> list[str]:
    """The methods the API takes on a path (a resource path or a request's own), for 405's `Allow`: those
    of the one resource API Gateway would route it to (literal segments win, as in `find`)."""
    parts = path.strip("/").split("/")
    matching = [r for r in ROUTES if r.path == path or _matches(r, parts)]
    if not matching:
        return []
    resource = min(matching, key=lambda r: (r.path != path, sum(t.startswith("{") for t in r.segments))).path
    return sorted({r.method for r in matching if r.path == resource})


def may_call(route: Route, scopes: frozenset[str]) -> bool:
    return route.scope in (PUBLIC, ANY_KEY) or route.scope in scopes


def normalise_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    """Known scopes only, deduplicated, in the canonical order of SCOPES."""
    wanted = set(scopes)
    return [s for s in SCOPES if s in wanted]
