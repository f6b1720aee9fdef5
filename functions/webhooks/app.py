"""Webhooks: the signing secret, endpoints, test events and the delivery log (pro tier)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from filegate import errors
from filegate.audit import service as audit
from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.db import bind_tables
from filegate.lambda_http import http_handler
from filegate.models import webhooks as models
from filegate.models.base import EXACT, json_body, may_send
from filegate.observability import instrument
from filegate.settings import WebhooksSettings
from filegate.web import authorized, create_app, parse_body, source_ip
from filegate.webhooks import deliveries as webhook_deliveries
from filegate.webhooks import endpoints as webhook_endpoints
from filegate.webhooks import signing_secrets as webhook_secrets

settings = WebhooksSettings.from_env()
bind_tables(settings)
app = create_app("FileGate webhooks")
Authorized = Annotated[AuthContext, Depends(authorized)]


@app.post(
    "/v1/webhooks/secret",
    status_code=201,
    response_model=models.WebhookSecret,
    responses=may_send(errors.Conflict),
    **EXACT,
)
def create_secret(request: Request, who: Authorized) -> dict[str, Any]:
    return webhook_secrets.create_or_rotate_secret(who, utcnow(), ip=source_ip(request))


@app.get("/v1/webhooks/secret", response_model=models.WebhookSecret, **EXACT)
def reveal_secret(request: Request, who: Authorized) -> dict[str, Any]:
    """The current signing secret, for tools that verify deliveries (audited); never a rotation."""
    return webhook_secrets.reveal_secret(who, utcnow(), actor=audit.key_actor(who), ip=source_ip(request))


@app.post(
    "/v1/webhooks",
    status_code=201,
    response_model=models.Webhook,
    openapi_extra=json_body(models.RegisterWebhookRequest),
    responses=may_send(errors.Conflict),
    **EXACT,
)
async def register_webhook(request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, models.RegisterWebhookRequest)
    return webhook_endpoints.register_webhook(
        who, settings, url=body.url, events=body.events, now=utcnow(), ip=source_ip(request)
    )


@app.get("/v1/webhooks", response_model=models.WebhookList, **EXACT)
def list_webhooks(who: Authorized) -> dict[str, Any]:
    return webhook_endpoints.list_webhooks(who, utcnow())


@app.delete("/v1/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, request: Request, who: Authorized) -> Response:
    webhook_endpoints.delete_webhook(who, webhook_id, now=utcnow(), ip=source_ip(request))
    return Response(status_code=204)


@app.post("/v1/webhooks/{webhook_id}/test", status_code=202, response_model=models.Delivery, **EXACT)
def send_test(webhook_id: str, who: Authorized) -> JSONResponse:
    sent = webhook_endpoints.send_test(who, settings, webhook_id, utcnow())
    # The delivery to watch is in the endpoint's delivery log.
    return JSONResponse(sent, status_code=202, headers={"Location": f"/v1/webhooks/{webhook_id}/deliveries"})


@app.get("/v1/webhooks/{webhook_id}/deliveries", response_model=models.DeliveryList, **EXACT)
def list_deliveries(
    webhook_id: str,
    who: Authorized,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return webhook_deliveries.list_deliveries(who, webhook_id, limit=limit, cursor=cursor)


handler = instrument(http_handler(app))
