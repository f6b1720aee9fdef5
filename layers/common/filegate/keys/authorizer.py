"""The edge check (API.md §1): from an Authorization header and a source IP to an IAM policy.

Order: shape + checksum (no database read) → key lookup by id derived from its SHA-256 (one GetItem) →
revoked_at → expires_at → IP allowlist → owner account (one GetItem) → policy over every route the key's
scopes allow. Every failure raises :class:`Unauthorized`, which the handler turns into API Gateway's 401,
so nothing tells one cause from another.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
)

from filegate.clock import minute_floor
from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import ipallow, keyformat
from filegate.keys.context import AuthContext
from filegate.routes import allowed_routes

DENY_INSUFFICIENT_SCOPE = ("insufficient_scope", "This key may not call")
DENY_ACCOUNT_SUSPENDED = ("account_suspended", "This account is suspended; this key may not call")


class Unauthorized(Exception):
    """Any reason to answer 401; the reason is for logs only."""


@dataclass(frozen=True)
class MethodArn:
    partition: str
    region: str
    aws_account_id: str
    api_id: str
    stage: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        # arn:aws:execute-api:us-east-1:123456789012:apiid/stage/GET/v1/keys
        try:
            _, partition, _, region, account, rest = arn.split(":", 5)
            api_id, stage = rest.split("/", 2)[:2]
        except ValueError as exc:
            raise Unauthorized("malformed method ARN") from exc
        return cls(partition, region, account, api_id, stage)


def _valid_until(record: keys_table.KeyRecord, now: datetime) -> datetime | None:
    ends = [t for t in (record.revoked_at, record.expires_at) if t is not None and t > now]
    return min(ends) if ends else None


@dataclass(frozen=True)
class Authenticated:
    context: AuthContext
    suspended: bool  # authenticated, but its account may call nothing


def authenticate(authorization: str | None, source_ip: str | None, now: datetime) -> Authenticated:
    """The caller's identity, or Unauthorized."""
    raw_key = keyformat.from_authorization_header(authorization)
    if raw_key is None or not keyformat.is_well_formed(raw_key):
        raise Unauthorized("malformed key")
    key_digest = keyformat.digest(raw_key)
    record = keys_table.get(keyformat.key_id_for_digest(key_digest))
    if record is None or not hmac.compare_digest(record.key_hash, key_digest):
        raise Unauthorized("unknown key")
    if record.revoked_at is not None and record.revoked_at <= now:
        raise Unauthorized("revoked key")
    if record.expires_at is not None and record.expires_at <= now:
        raise Unauthorized("expired key")
    if not ipallow.allows(record.allowed_ips, source_ip):
        raise Unauthorized("source IP not allowed")
    account = accounts_table.get(record.account_id)
    if account is None:
        raise Unauthorized("no owner account")
    if record.last_used_at is None or record.last_used_at < minute_floor(now):
        keys_table.touch_last_used(record.key_id, minute_floor(now))
    context = AuthContext(
        account_id=account.account_id,
        key_id=record.key_id,
        key_prefix=record.key_prefix,
        tier=account.tier,
        scopes=frozenset(record.scopes),
        test_mode=record.mode == "test",
        valid_until=_valid_until(record, now),
    )
    return Authenticated(context=context, suspended=account.status == "suspended")


def policy_for(caller: Authenticated, method_arn: str) -> dict[str, Any]:
    """An IAM policy over every route the key may call, with the context the functions and 403s read."""
    arn = MethodArn.parse(method_arn)
    context = caller.context
    deny_code, deny_reason = DENY_ACCOUNT_SUSPENDED if caller.suspended else DENY_INSUFFICIENT_SCOPE
    response = APIGatewayAuthorizerResponse(
        principal_id=context.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
        context={**context.to_authorizer_context(), "deny_code": deny_code, "deny_reason": deny_reason},
    )
    routes = [] if caller.suspended else allowed_routes(context.scopes)
    if routes:
        for route in routes:
            method, _, resource = route.resource_pattern.partition("/")
            response.allow_route(http_method=method, resource=resource)
    else:
        response.deny_all_routes()
    return response.asdict()
