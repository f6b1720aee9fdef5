"""The local gateway's IAM policy evaluation for execute-api (filegate_local.iam)."""

from __future__ import annotations

from typing import Any

import pytest

from filegate_local.iam import Decision, PolicyError, evaluate, wildcard_match

API = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: str | list[str], action: str | list[str] = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(resource: str | list[str], action: str | list[str] = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def test_allow_matching_resource() -> None:
    assert evaluate(policy(allow(f"{API}/GET/v1/keys")), f"{API}/GET/v1/keys") is Decision.ALLOW


def test_no_matching_statement_is_an_implicit_deny() -> None:
    assert evaluate(policy(allow(f"{API}/GET/v1/keys")), f"{API}/POST/v1/keys") is Decision.IMPLICIT_DENY


def test_explicit_deny_wins_over_allow_in_any_order() -> None:
    target = f"{API}/DELETE/v1/keys/k1"
    assert evaluate(policy(allow(f"{API}/*"), deny(f"{API}/DELETE/*")), target) is Decision.EXPLICIT_DENY
    assert evaluate(policy(deny(f"{API}/DELETE/*"), allow(f"{API}/*")), target) is Decision.EXPLICIT_DENY
    assert evaluate(policy(allow(f"{API}/*"), deny(f"{API}/DELETE/*")), f"{API}/GET/v1/keys").allowed


def test_star_spans_slashes_and_colons() -> None:
    assert evaluate(policy(allow("arn:aws:execute-api:*")), f"{API}/GET/v1/files/a/b").allowed
    assert evaluate(policy(allow(f"{API}/GET/v1/files/*")), f"{API}/GET/v1/files/f1/content").allowed
    assert evaluate(policy(allow("*")), f"{API}/PATCH/v1/keys/k").allowed


def test_path_parameter_wildcard_as_the_authorizer_writes_it() -> None:
    # routes.Route.resource_pattern turns /v1/keys/{id} into GET/v1/keys/*
    granted = policy(allow(f"{API}/PATCH/v1/keys/*"))
    assert evaluate(granted, f"{API}/PATCH/v1/keys/key_123").allowed
    assert not evaluate(granted, f"{API}/PATCH/v1/keys").allowed  # * needs the slash before it


def test_question_mark_matches_exactly_one_character() -> None:
    granted = policy(allow(f"{API}/GET/v?/health"))
    assert evaluate(granted, f"{API}/GET/v1/health").allowed
    assert not evaluate(granted, f"{API}/GET/v10/health").allowed
    assert not evaluate(granted, f"{API}/GET/v/health").allowed


def test_regex_characters_in_resources_are_literal() -> None:
    granted = policy(allow(f"{API}/GET/v1/a.b"))
    assert evaluate(granted, f"{API}/GET/v1/a.b").allowed
    assert not evaluate(granted, f"{API}/GET/v1/aXb").allowed


def test_resources_are_case_sensitive_actions_are_not() -> None:
    assert not evaluate(policy(allow(f"{API}/get/v1/keys")), f"{API}/GET/v1/keys").allowed
    assert evaluate(policy(allow(f"{API}/GET/v1/keys", "Execute-API:invoke")), f"{API}/GET/v1/keys").allowed


@pytest.mark.parametrize("action", ["execute-api:*", "*", "execute-api:Inv*", ["s3:GetObject", "execute-api:Invoke"]])
def test_action_wildcards_and_lists(action: str | list[str]) -> None:
    assert evaluate(policy(allow(f"{API}/*", action)), f"{API}/GET/x").allowed


def test_other_actions_do_not_grant_invoke() -> None:
    assert not evaluate(policy(allow(f"{API}/*", "execute-api:ManageConnections")), f"{API}/GET/x").allowed
    assert not evaluate(policy(allow(f"{API}/*", "s3:*")), f"{API}/GET/x").allowed


def test_resource_lists() -> None:
    granted = policy(allow([f"{API}/GET/v1/usage", f"{API}/GET/v1/entitlements/me"]))
    assert evaluate(granted, f"{API}/GET/v1/usage").allowed
    assert evaluate(granted, f"{API}/GET/v1/entitlements/me").allowed
    assert not evaluate(granted, f"{API}/GET/v1/keys").allowed


def test_a_single_statement_object_is_accepted() -> None:
    assert evaluate({"Statement": allow(f"{API}/*")}, f"{API}/GET/x").allowed


def test_not_action_and_not_resource() -> None:
    not_resource = {"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": f"{API}/DELETE/*"}
    assert evaluate(policy(not_resource), f"{API}/GET/v1/files").allowed
    assert not evaluate(policy(not_resource), f"{API}/DELETE/v1/files/f").allowed
    not_action = {"Effect": "Deny", "NotAction": "s3:*", "Resource": f"{API}/*"}
    assert evaluate(policy(allow(f"{API}/*"), not_action), f"{API}/GET/x") is Decision.EXPLICIT_DENY


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"Statement": []},
        {"Statement": "nope"},
        {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}]},
    ],
)
def test_malformed_policies_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        evaluate(document, f"{API}/GET/x")


def test_wildcard_match_edges() -> None:
    assert wildcard_match("", "")
    assert wildcard_match("*", "")
    assert not wildcard_match("a", "")
    assert wildcard_match("a*b*c", "aXXbYYc")
    assert not wildcard_match("a*b*c", "aXXbYY")
    assert wildcard_match("a\nb*", "a\nbc")
