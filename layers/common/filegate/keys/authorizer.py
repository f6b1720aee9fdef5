"""Authentication (docs/api.md §1): from an Authorization header and a source IP to who is calling.

Order: shape + checksum (no database read) → key lookup by id derived from its SHA-256 (one GetItem) →
revoked_at → expires_at → IP allowlist (marked on the context, refused by the function: see
``AuthContext.ip_denied``) → owner account (one GetItem). Every failure raises
:class:`Unauthorized`, which becomes the one 401, so nothing tells one cause from another.

The checks after the lookup are :func:`check_key`, shared by the edge authorizer and by the functions when
a change stamp says the authorizer's cached answer is out of date (filegate.keys.freshness). What a key may
call (scopes, tier, status) is not decided here: the policy allows the whole API, so a cached policy is
right for every route, and the functions check the route table (filegate.keys.access).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
)

from filegate.context import AuthContext
from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.keys import ipallow, keyformat


class Unauthorized(Exception):
    """Any reason to answer 401; the reason is for logs only. ``key_id`` names a key that was found (and then
    refused): its per-key activity counts the refusal (filegate.activity)."""

    def __init__(self, reason: str, key_id: str | None = None) -> None:
        super().__init__(reason)
        self.key_id = key_id


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


@dataclass(frozen=True)
class Request:
    """What a REQUEST authorizer event says: the Authorization header, the source IP and the method ARN."""

    authorization: str | None
    source_ip: str | None
    method_arn: str

    @classmethod
    def from_event(cls, event: object) -> Request:
        """Read defensively: API Gateway sends a JSON object with string values, but any other shape (not an
        object, a number where a string goes, ``requestContext: null``) is refused as Unauthorized like a bad
        key, never a TypeError (a 500 that would tell a caller which input shapes reach the code)."""
        if not isinstance(event, Mapping):
            raise Unauthorized("not an authorizer event")
        headers = _mapping(event.get("headers"), "headers")
        authorization = next((v for k, v in headers.items() if str(k).lower() == "authorization"), None)
        identity = _mapping(_mapping(event.get("requestContext"), "requestContext").get("identity"), "identity")
        source_ip = identity.get("sourceIp")
        method_arn = event.get("methodArn")
        if not isinstance(method_arn, str):
            raise Unauthorized("no method ARN")
        return cls(_text(authorization, "Authorization"), _text(source_ip, "sourceIp"), method_arn)


def _mapping(value: object, name: str) -> Mapping[str, object]:
    """An object of the event (absent or null: empty); Unauthorized when it is anything else."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Unauthorized(f"{name} is not an object")
    return value


def _text(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise Unauthorized(f"{name} is not a string")
    return value


def _valid_until(record: keys_table.KeyRecord, now: datetime) -> datetime | None:
    ends = [t for t in (record.revoked_at, record.expires_at) if t is not None and t > now]
    return min(ends) if ends else None


@dataclass(frozen=True)
class Authenticated:
    context: AuthContext

    @property
    def suspended(self) -> bool:
        return self.context.suspended


def check_key(
    record: keys_table.KeyRecord | None, source_ip: str | None, now: datetime, *, defer_ip: bool = False
) -> Authenticated:
    """The checks after the lookup, on a key record read just now: its caller, or Unauthorized.

    ``defer_ip`` (the edge): a source IP outside the allowlist is not refused here but marked on the
    context (``ip_denied``), because API Gateway would cache the 401 for that identity; the function refuses
    it once it has seen whether the allowlist changed since."""
    if record is None:
        raise Unauthorized("unknown key")
    if record.pending_rotation_of is not None:
        raise Unauthorized("rotation not finished")  # its raw value was never shown: nobody can hold it yet
    if record.revoked_at is not None and record.revoked_at <= now:
        raise Unauthorized("revoked key", record.key_id)
    if record.expires_at is not None and record.expires_at <= now:
        raise Unauthorized("expired key", record.key_id)
    ip_denied = not ipallow.allows(record.allowed_ips, source_ip)
    if ip_denied and not defer_ip:
        raise Unauthorized("source IP not allowed")
    account = accounts_table.get(record.account_id)
    if account is None:
        raise Unauthorized("no owner account")
    context = AuthContext(
        account_id=account.account_id,
        key_id=record.key_id,
        key_prefix=record.key_prefix,
        tier=account.tier,
        scopes=frozenset(record.scopes),
        test_mode=record.mode == "test",
        valid_until=_valid_until(record, now),
        suspended=account.status == "suspended",
        key_version=int(record.version or 0),
        account_version=int(account.version or 0),
        ip_denied=ip_denied,
    )
    return Authenticated(context=context)


def authenticate(authorization: str | None, source_ip: str | None, now: datetime) -> Authenticated:
    """The caller's identity from the raw key, or Unauthorized (the edge authorizer)."""
    raw_key = keyformat.from_authorization_header(authorization)
    if raw_key is None or not keyformat.is_well_formed(raw_key):
        raise Unauthorized("malformed key")
    key_digest = keyformat.digest(raw_key)
    record = keys_table.get(keyformat.key_id_for_digest(key_digest))
    if record is None or not hmac.compare_digest(record.key_hash, key_digest):
        raise Unauthorized("unknown key")
    # Read-only: last use is recorded by the functions' metering write, whether or not this answer is cached.
    return check_key(record, source_ip, now, defer_ip=True)


def reauthenticate(key_id: str, source_ip: str | None, now: datetime) -> Authenticated:
    """The same checks on the key and account as they are now (consistent reads), by the key's id."""
    return check_key(keys_table.get(key_id), source_ip, now)


def policy_for(caller: Authenticated, method_arn: str) -> dict[str, Any]:
    """One policy allowing the whole API (so a cached policy fits every route), with the caller's context."""
    arn = MethodArn.parse(method_arn)
    response = APIGatewayAuthorizerResponse(
        principal_id=caller.context.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
        context=caller.context.to_authorizer_context(),
    )
    response.allow_all_routes()
    return response.asdict()
