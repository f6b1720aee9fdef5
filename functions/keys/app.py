"""Keys and account: sign-up, key management, entitlements, usage, health."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from pydantic import Field

from filegate.clock import parse_iso, utcnow
from filegate.db import bind_tables
from filegate.keys import service as key_service
from filegate.keys.context import AuthContext
from filegate.lambda_http import http_handler
from filegate.observability import instrument
from filegate.settings import KeysSettings
from filegate.tiers import MAX_ROTATION_GRACE_SECONDS
from filegate.web import RequestBody, authorized, create_app, parse_body, source_ip

settings = KeysSettings.from_env()
bind_tables(settings)
app = create_app("FileGate keys")
Authorized = Annotated[AuthContext, Depends(authorized)]
# How long a cached authorizer answer may outlive a change: what each change is stamped for.
CACHE_HORIZON = timedelta(seconds=settings.authorizer_cache_ttl_seconds)


class FreeKeyRequest(RequestBody):
    email: str = Field(max_length=254)


class CreateKeyRequest(RequestBody):
    name: str = Field(max_length=100)
    scopes: list[str] | None = Field(default=None, max_length=20)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)
    expires_at: datetime | None = None
    mode: Literal["live", "test"] = "live"


class UpdateKeyRequest(RequestBody):
    name: str | None = Field(default=None, max_length=100)
    scopes: list[str] | None = Field(default=None, max_length=20)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)


class RotateRequest(RequestBody):
    grace_seconds: int = Field(default=0, ge=0, le=MAX_ROTATION_GRACE_SECONDS)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else parse_iso(value.isoformat())


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/keys/free", status_code=201)
async def free_key(request: Request) -> dict[str, Any]:
    body = await parse_body(request, FreeKeyRequest)
    return key_service.sign_up_free(body.email, source_ip(request), utcnow())


@app.get("/v1/keys")
def list_keys(
    who: Authorized,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return key_service.list_keys(who, limit=limit, cursor=cursor)


@app.post("/v1/keys", status_code=201)
async def create_key(request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, CreateKeyRequest)
    issued = key_service.create_key(
        who,
        name=body.name,
        scopes=body.scopes,
        allowed_ips=body.allowed_ips,
        expires_at=_utc(body.expires_at),
        mode=body.mode,
        now=utcnow(),
    )
    return issued.as_json()


@app.patch("/v1/keys/{key_id}")
async def update_key(key_id: str, request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, UpdateKeyRequest)
    return key_service.update_key(
        who,
        key_id,
        name=body.name,
        scopes=body.scopes,
        allowed_ips=body.allowed_ips,
        now=utcnow(),
        horizon=CACHE_HORIZON,
    )


@app.delete("/v1/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, who: Authorized) -> Response:
    key_service.revoke_key(who, key_id, now=utcnow(), horizon=CACHE_HORIZON)
    return Response(status_code=204)


@app.post("/v1/keys/rotate", status_code=201)
async def rotate_own_key(request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, RotateRequest)
    issued = key_service.rotate_key(
        who, who.key_id, grace_seconds=body.grace_seconds, now=utcnow(), horizon=CACHE_HORIZON
    )
    return issued.as_json()


@app.post("/v1/keys/{key_id}/rotate", status_code=201)
async def rotate_key(key_id: str, request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, RotateRequest)
    issued = key_service.rotate_key(who, key_id, grace_seconds=body.grace_seconds, now=utcnow(), horizon=CACHE_HORIZON)
    return issued.as_json()


@app.get("/v1/entitlements/me")
def entitlements(who: Authorized) -> dict[str, Any]:
    return key_service.entitlements(who, utcnow())


@app.get("/v1/usage")
def usage_report(
    who: Authorized,
    from_: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    to: Annotated[str | None, Query(max_length=7)] = None,
) -> dict[str, Any]:
    return key_service.usage_report(who, from_, to, utcnow())


handler = instrument(http_handler(app))
