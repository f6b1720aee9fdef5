"""The authorizer's policy (one allow over the whole API) and the context it hands the functions."""

from fnmatch import fnmatchcase

import pytest

from filegate.context import AuthContext
from filegate.keys.authorizer import Authenticated, MethodArn, Unauthorized, policy_for
from filegate.routes import ROUTES, SCOPES

BASE = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"


def _context(scopes, **extra):
    return AuthContext("acct_1", "key_1", "fg_live_abcd", "free", frozenset(scopes), False, **extra)


def _allowed(policy, method, path):
    arn = f"{BASE}/{method}/{path.lstrip('/')}"
    statements = policy["policyDocument"]["Statement"]
    if any(s["Effect"] == "Deny" and any(fnmatchcase(arn, r) for r in s["Resource"]) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and any(fnmatchcase(arn, r) for r in s["Resource"]) for s in statements)


@pytest.mark.parametrize(
    "caller",
    [
        Authenticated(_context(["files:read"])),
        Authenticated(_context([])),
        Authenticated(_context(SCOPES, suspended=True)),  # the function answers 403 account_suspended
    ],
)
def test_policy_allows_every_route_whatever_the_scopes(caller):
    policy = policy_for(caller, f"{BASE}/GET/v1/keys")
    for route in ROUTES:
        assert _allowed(policy, route.method, route.path.replace("{id}", "x_1")), route
    # Not merely our routes: the one statement is the whole stage, so a cached policy fits any request.
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Resource"] == [f"{BASE}/*/*"]


def test_policy_is_the_same_whichever_route_triggered_it():
    caller = Authenticated(_context(["files:read"]))
    assert policy_for(caller, f"{BASE}/GET/v1/keys") == policy_for(caller, f"{BASE}/POST/v1/convert")


def test_context_carries_identity_status_and_versions():
    caller = Authenticated(_context(["files:read"], suspended=True, key_version=7, account_version=3))
    context = policy_for(caller, f"{BASE}/GET/v1/keys")["context"]
    assert context["account_id"] == "acct_1"
    assert context["scopes"] == "files:read"
    assert context["test_mode"] == "false"
    assert (context["suspended"], context["key_version"], context["account_version"]) == ("true", "7", "3")
    assert all(isinstance(v, str) for v in context.values())


def test_context_round_trip():
    context = _context(["files:read", "keys:manage"], key_version=12, account_version=4)
    assert AuthContext.from_authorizer_context(context.to_authorizer_context()) == context
    assert AuthContext.from_authorizer_context({}) is None
    assert AuthContext.from_authorizer_context({"account_id": "", "key_id": "k"}) is None


def test_a_context_without_versions_reads_as_version_zero():
    old = {"account_id": "acct_1", "key_id": "key_1", "scopes": "files:read"}
    context = AuthContext.from_authorizer_context(old)
    assert context is not None and (context.key_version, context.account_version) == (0, 0)


def test_method_arn_parsing():
    arn = MethodArn.parse(f"{BASE}/GET/v1/files/f_1/content")
    assert (arn.region, arn.aws_account_id, arn.api_id, arn.stage) == ("eu-west-1", "123456789012", "abc123", "prod")
    with pytest.raises(Unauthorized):
        MethodArn.parse("garbage")
