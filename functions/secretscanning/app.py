"""GitHub secret scanning (docs/api.md §9): POST /v1/integrations/github/secret-scanning, no API key.

GitHub's signature over the raw body is checked before anything else (Mangum has already decoded a
base64-encoded API Gateway body); the findings are judged by ``filegate.secret_scanning.service``.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from filegate import errors
from filegate.clock import utcnow
from filegate.db import bind_tables
from filegate.egress.policy import resolver_for
from filegate.lambda_http import http_handler
from filegate.models import secret_scanning as models
from filegate.models.base import json_body, may_send
from filegate.observability import instrument
from filegate.secret_scanning import github_keys, service
from filegate.settings import SecretScanningSettings
from filegate.web import create_app

settings = SecretScanningSettings.from_env()
bind_tables(settings)
app = create_app("FileGate secret scanning")
ring = github_keys.KeyRing(
    lambda: github_keys.fetch_meta(
        settings.github_keys_url,
        allow_insecure_loopback=settings.egress_allow_insecure_loopback,
        resolver=resolver_for(settings),
    )
)


@app.post(
    "/v1/integrations/github/secret-scanning",
    response_model=list[models.Feedback],
    openapi_extra=json_body(models.Findings),
    responses=may_send(errors.InvalidSignature),
)
async def github_secret_scanning(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(service.receive(body, request.headers, ring, settings, utcnow()))


handler = instrument(http_handler(app))
