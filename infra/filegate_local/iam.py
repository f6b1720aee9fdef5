"""Evaluating an authorizer's IAM policy against a method ARN, the way IAM does for execute-api.

An explicit Deny wins over any Allow; without a matching Allow the request is (implicitly) denied.
`*` matches any run of characters (including `/` and `:`), `?` any single character. Actions compare
case-insensitively, resources case-sensitively.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

INVOKE_ACTION = "execute-api:Invoke"


class PolicyError(ValueError):
    """The authorizer returned something that is not a usable policy (AUTHORIZER_CONFIGURATION_ERROR)."""


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@lru_cache(maxsize=4096)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(glob: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _pattern(glob, case_sensitive).fullmatch(value) is not None


def _as_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PolicyError(f"{field} must be a string or a list of strings")


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The policy's statements, validated for shape."""
    if not isinstance(policy, Mapping):
        raise PolicyError("policyDocument must be an object")
    raw = policy.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not items:
        raise PolicyError("policyDocument.Statement must be a non-empty list")
    for statement in items:
        if not isinstance(statement, Mapping):
            raise PolicyError("each Statement must be an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError("Statement.Effect must be Allow or Deny")
        if ("Action" in statement) == ("NotAction" in statement):
            raise PolicyError("Statement needs exactly one of Action / NotAction")
        if ("Resource" in statement) == ("NotResource" in statement):
            raise PolicyError("Statement needs exactly one of Resource / NotResource")
    return items


def _statement_matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = any(
            wildcard_match(a, action, case_sensitive=False) for a in _as_list(statement["Action"], "Action")
        )
    else:
        action_ok = not any(
            wildcard_match(a, action, case_sensitive=False) for a in _as_list(statement["NotAction"], "NotAction")
        )
    if not action_ok:
        return False
    if "Resource" in statement:
        return any(wildcard_match(r, resource) for r in _as_list(statement["Resource"], "Resource"))
    return not any(wildcard_match(r, resource) for r in _as_list(statement["NotResource"], "NotResource"))


def evaluate(policy: Mapping[str, Any], resource: str, action: str = INVOKE_ACTION) -> Decision:
    """IAM's evaluation logic for one request: explicit Deny > Allow > implicit deny."""
    allowed = False
    for statement in statements(policy):
        if not _statement_matches(statement, action, resource):
            continue
        if statement["Effect"] == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
