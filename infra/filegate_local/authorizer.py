"""Lambda authorizers the way API Gateway runs them: identity sources, the cache, the policy.

- An identity source that is missing or empty is a 401 without invoking the authorizer (when caching is
  on; with a TTL of 0 API Gateway does not check them).
- The authorizer throwing `Unauthorized` is a 401; any other failure is AUTHORIZER_FAILURE (500); a reply
  that is not a valid policy is AUTHORIZER_CONFIGURATION_ERROR (500).
- A valid reply is cached per identity for the TTL, and its policy is evaluated for every request's
  method ARN: so a cached policy must cover every route the caller may use.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from filegate_local import iam
from filegate_local.authorizer_cache import AuthorizerCache, AuthorizerResult, CacheKey
from filegate_local.events import (
    ApiContext,
    IncomingRequest,
    method_arn,
    query_maps,
    request_authorizer_event,
    request_context,
)
from filegate_local.model import AuthorizerSpec
from filegate_local.workers import Invocation

EXPLICIT_DENY_MESSAGE = "User is not authorized to access this resource with an explicit deny"
IMPLICIT_DENY_MESSAGE = "User is not authorized to access this resource"


@dataclass
class AuthOutcome:
    """allow | unauthorized | denied | failure | config_error"""

    kind: str
    result: AuthorizerResult | None = None
    message: str | None = None
    latency_ms: int = 0
    cached: bool = False

    @property
    def authorizer_context(self) -> dict[str, Any] | None:
        """requestContext.authorizer as the integration sees it."""
        if self.result is None:
            return None
        return {
            "principalId": self.result.principal_id,
            "integrationLatency": self.latency_ms,
            **self.result.context,
        }


Invoker = Callable[[str, dict[str, Any], str], Invocation]  # function logical id, event, request id


class Authorizers:
    def __init__(self, invoke: Invoker, cache: AuthorizerCache) -> None:
        self._invoke = invoke
        self.cache = cache

    @staticmethod
    def identity(spec: AuthorizerSpec, request: IncomingRequest, api: ApiContext) -> tuple[str, ...] | None:
        """The identity source values, in a fixed order; None when one is missing or empty."""
        values: list[str] = []
        for header in spec.headers:
            values.append(request.header(header) or "")
        if spec.query_strings:
            query, _ = query_maps(request.query)
            values.extend(query.get(name, "") for name in spec.query_strings)
        values.extend(api.stage_variables.get(name, "") for name in spec.stage_variables)
        if spec.context:
            context = request_context(request, api)
            for path in spec.context:
                value: Any = context
                for part in path.removeprefix("$").removeprefix("context.").split("."):
                    value = value.get(part) if isinstance(value, Mapping) else None
                values.append("" if value is None else str(value))
        if any(v == "" for v in values):
            return None
        return tuple(values)

    def authorize(self, spec: AuthorizerSpec, request: IncomingRequest, api: ApiContext) -> AuthOutcome:
        identity = self.identity(spec, request, api)
        caching = spec.ttl_seconds > 0
        if identity is None and caching:
            return AuthOutcome("unauthorized", message="Unauthorized")

        key: CacheKey | None = None
        if caching and identity is not None:
            key = (api.api_id, api.stage, spec.name, identity)
            cached = self.cache.get(key)
            if cached is not None:
                return self._decide(cached, request, api, latency_ms=0, cached=True)

        event = request_authorizer_event(request, api)
        started = time.monotonic()
        invocation = self._invoke(spec.function, event, str(uuid.uuid4()))
        latency = int((time.monotonic() - started) * 1000)
        if not invocation.ok:
            message = str((invocation.error or {}).get("errorMessage", ""))
            if invocation.status == "error" and message == "Unauthorized":
                return AuthOutcome("unauthorized", message="Unauthorized", latency_ms=latency)
            return AuthOutcome("failure", message=None, latency_ms=latency)
        try:
            result = parse_authorizer_response(invocation.result)
        except iam.PolicyError:
            return AuthOutcome("config_error", message=None, latency_ms=latency)
        if key is not None:
            self.cache.put(key, result, spec.ttl_seconds)
        return self._decide(result, request, api, latency_ms=latency, cached=False)

    @staticmethod
    def _decide(
        result: AuthorizerResult, request: IncomingRequest, api: ApiContext, *, latency_ms: int, cached: bool
    ) -> AuthOutcome:
        decision = iam.evaluate(result.policy, method_arn(request, api))
        if decision.allowed:
            return AuthOutcome("allow", result=result, latency_ms=latency_ms, cached=cached)
        message = EXPLICIT_DENY_MESSAGE if decision is iam.Decision.EXPLICIT_DENY else IMPLICIT_DENY_MESSAGE
        return AuthOutcome("denied", result=result, message=message, latency_ms=latency_ms, cached=cached)


def parse_authorizer_response(payload: Any) -> AuthorizerResult:
    """Validate what a Lambda authorizer returned, as API Gateway does."""
    if not isinstance(payload, Mapping):
        raise iam.PolicyError("authorizer response must be an object")
    principal = payload.get("principalId")
    if principal is None or isinstance(principal, Mapping | list):
        raise iam.PolicyError("principalId is required")
    policy = payload.get("policyDocument")
    if not isinstance(policy, Mapping):
        raise iam.PolicyError("policyDocument is required")
    iam.statements(policy)  # validates the shape
    context: dict[str, str] = {}
    for name, value in (payload.get("context") or {}).items():
        if isinstance(value, bool):
            context[str(name)] = str(value).lower()
        elif isinstance(value, str | int | float):
            context[str(name)] = str(value)
        elif value is None:
            continue
        else:
            raise iam.PolicyError(f"context.{name} must be a string, number or boolean")
    usage = payload.get("usageIdentifierKey")
    return AuthorizerResult(
        principal_id=str(principal),
        policy=policy,
        context=context,
        usage_identifier_key=str(usage) if usage is not None else None,
    )
