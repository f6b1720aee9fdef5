"""Authorization (docs/api.md §1, §2): may this caller call this route? From the route table, before any work.

The authorizer only authenticates and its policy allows the whole API; this is the one place that turns
a caller's scopes, tier and account status into 403s.
"""

from __future__ import annotations

from filegate import errors
from filegate.context import AuthContext
from filegate.routes import find, may_call
from filegate.tiers import tier


def check_route(context: AuthContext, method: str, resource_path: str) -> None:
    """Raise the 403 the route table says, if any; ``resource_path`` is the route's (``/v1/keys/{id}``)."""
    route = find(method, resource_path)
    if context.suspended:
        raise errors.AccountSuspended(f"This account is suspended; this key may not call {method} {resource_path}.")
    if route is None or not may_call(route, context.scopes):
        raise errors.InsufficientScope(f"This key may not call {method} {resource_path}.")
    if route.feature is not None:
        require_feature(context, route.feature)


def require_feature(context: AuthContext, feature: str) -> None:
    if feature not in tier(context.tier).features:
        raise errors.TierRequired(f"Your plan ({context.tier}) does not include {feature}; upgrade to pro.")
