"""The authorizer's policy: every route the scopes allow, nothing else, and the context the 403s read."""

from fnmatch import fnmatchcase

import pytest

from filegate.keys.authorizer import Authenticated, MethodArn, Unauthorized, policy_for
from filegate.keys.context import AuthContext
from filegate.routes import ANY_KEY, PUBLIC, ROUTES, SCOPES

BASE = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"


def _context(scopes):
    return AuthContext("acct_1", "key_1", "fg_live_abcd", "free", frozenset(scopes), False)


def _allowed(policy, method, path):
    arn = f"{BASE}/{method}/{path.lstrip('/')}"
    statements = policy["policyDocument"]["Statement"]
    if any(s["Effect"] == "Deny" and any(fnmatchcase(arn, r) for r in s["Resource"]) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and any(fnmatchcase(arn, r) for r in s["Resource"]) for s in statements)


def _concrete(path):
    return path.replace("{id}", "key_x")


@pytest.mark.parametrize("scope", SCOPES)
def test_policy_covers_exactly_the_routes_of_the_scopes(scope):
    policy = policy_for(Authenticated(_context([scope]), suspended=False), f"{BASE}/GET/v1/keys")
    for route in ROUTES:
        if route.scope == PUBLIC:
            continue
        expected = route.scope in (scope, ANY_KEY)
        assert _allowed(policy, route.method, _concrete(route.path)) is expected, route


def test_policy_is_the_same_whichever_route_triggered_it():
    caller = Authenticated(_context(["files:read"]), suspended=False)
    a = policy_for(caller, f"{BASE}/GET/v1/keys")
    b = policy_for(caller, f"{BASE}/POST/v1/convert")
    assert a == b


def test_context_carries_identity_and_deny_reason():
    policy = policy_for(Authenticated(_context(["files:read"]), suspended=False), f"{BASE}/GET/v1/keys")
    context = policy["context"]
    assert context["account_id"] == "acct_1"
    assert context["scopes"] == "files:read"
    assert context["test_mode"] == "false"
    assert context["deny_code"] == "insufficient_scope"
    assert all(isinstance(v, str) for v in context.values())


def test_suspended_account_is_denied_everything():
    policy = policy_for(Authenticated(_context(SCOPES), suspended=True), f"{BASE}/GET/v1/keys")
    assert policy["context"]["deny_code"] == "account_suspended"
    for route in ROUTES:
        assert not _allowed(policy, route.method, _concrete(route.path))


def test_context_round_trip():
    context = _context(["files:read", "keys:manage"])
    assert AuthContext.from_authorizer_context(context.to_authorizer_context()) == context
    assert AuthContext.from_authorizer_context({}) is None
    assert AuthContext.from_authorizer_context({"account_id": "", "key_id": "k"}) is None


def test_method_arn_parsing():
    arn = MethodArn.parse(f"{BASE}/GET/v1/files/f_1/content")
    assert (arn.region, arn.aws_account_id, arn.api_id, arn.stage) == ("eu-west-1", "123456789012", "abc123", "prod")
    with pytest.raises(Unauthorized):
        MethodArn.parse("garbage")
