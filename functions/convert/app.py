"""Conversion: sync convert and compress, async jobs (single and bulk), the formats matrix."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from filegate import errors
from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.conversions import create, merges, records, routing, sync
from filegate.db import bind_tables
from filegate.files.storage import Bucket
from filegate.formats.options import OPTIONS
from filegate.formats.table import formats_document
from filegate.idempotency import MAX_KEY_LENGTH, Idempotent
from filegate.lambda_http import http_handler
from filegate.models import conversions as models
from filegate.models.base import EXACT, form_body, json_body, may_send
from filegate.observability import instrument
from filegate.settings import ConvertSettings
from filegate.suggest import check_names
from filegate.web import authorized, create_app, parse_body

settings = ConvertSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
# The queue of each engine's worker: images and PDFs, audio and video, documents and the PDF tools.
queues = routing.engine_queues(settings)
app = create_app("FileGate conversion")
Authorized = Annotated[AuthContext, Depends(authorized)]


# The form parts each sync route takes besides the conversion options (whose one list is the option table): its
# declared form's (filegate.models.conversions).
CONVERT_PARTS = tuple(name for name in models.ConvertForm.model_fields if name not in OPTIONS)
COMPRESS_PARTS = tuple(name for name in models.CompressForm.model_fields if name not in OPTIONS)
SYNC_RESPONSES = models.sync_conversion_responses()
# What a conversion may be refused for beyond every route's usual errors (docs/api.md "Errors").
CONVERSION_ERRORS = may_send(
    errors.UnsupportedMediaType, errors.UnsupportedConversion, errors.ConversionFailed, errors.QuotaExceeded
)
# A job's source is checked when it is created (a ready file's format, a URL's policy); a reused
# Idempotency-Key with another body is 409.
JOB_ERRORS = may_send(errors.Conflict, errors.UnsupportedMediaType, errors.UnsupportedConversion, errors.QuotaExceeded)


async def _upload(
    request: Request, parts: tuple[str, ...], *, max_files: int = 1
) -> tuple[list[merges.Upload], dict[str, str]]:
    """The multipart form's files (several only to merge them) and its other fields; a part that is neither
    one of `parts` nor an option is 422 invalid_parameter naming it. Size limits are checked on the files
    themselves (by the sync conversion), so a 413 quotes their size (docs/api.md) rather than the body's; the
    gateway caps the body anyway."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise errors.InvalidRequest("file: send the file as multipart/form-data.")
    try:
        form = await request.form(max_files=max_files, max_fields=20)
    except errors.ApiError:
        raise
    except Exception as exc:  # malformed multipart bodies of every kind, or too many files
        raise errors.InvalidRequest("Malformed multipart/form-data body.") from exc
    check_names(form.keys(), (*parts, *OPTIONS), kind="form field")
    uploads = [upload for upload in form.getlist("file") if isinstance(upload, UploadFile)]
    if not uploads:
        raise errors.InvalidRequest("file: required, the file to convert.")
    files = [merges.Upload(await upload.read(), upload.filename) for upload in uploads]
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return files, fields


def _sync_response(outcome: sync.SyncOutcome | sync.ContinuedAsJob) -> Response:
    if isinstance(outcome, sync.ContinuedAsJob):  # over the sync budget: it goes on as a job
        return JSONResponse(outcome.conversion, status_code=202, headers={"Location": outcome.location})
    headers = {"X-Conversion-Id": outcome.conversion_id}
    if outcome.download_url is not None:
        return JSONResponse(
            outcome.stored_json(),
            status_code=303,
            headers={**headers, "Location": outcome.download_url},
        )
    headers["Content-Disposition"] = f'attachment; filename="{outcome.filename}"'
    return Response(content=outcome.data, media_type=outcome.content_type, headers=headers)


@app.get("/v1/formats", response_model=models.Formats, **EXACT)
def supported_formats() -> dict[str, Any]:
    return formats_document()


async def _convert_sync(request: Request, who: AuthContext, *, compress: bool) -> Response:
    started = time.monotonic()
    files, fields = await _upload(
        request, COMPRESS_PARTS if compress else CONVERT_PARTS, max_files=1 if compress else merges.MAX_INPUTS
    )
    target = None
    if not compress:
        target = fields.get("target", "").strip().lower()
        if not target:
            raise errors.InvalidRequest("target: required, a format name (see GET /v1/formats).")
    if target is not None and len(files) > 1:  # several files: merged into one PDF
        outcome = merges.merge_sync(
            who, bucket, settings, uploads=files, target=target, fields=fields, queues=queues, now=utcnow(),
            budget_seconds=settings.sync_budget_seconds, started=started,
        )  # fmt: skip
        return _sync_response(outcome)
    outcome = sync.convert_sync(
        who, bucket, settings, data=files[0].data, filename=files[0].filename, target=target, fields=fields,
        queues=queues, now=utcnow(), budget_seconds=settings.sync_budget_seconds, started=started,
    )  # fmt: skip
    return _sync_response(outcome)


@app.post("/v1/convert", openapi_extra=form_body(models.ConvertForm), responses={**SYNC_RESPONSES, **CONVERSION_ERRORS})
async def convert(request: Request, who: Authorized) -> Response:
    return await _convert_sync(request, who, compress=False)


@app.post(
    "/v1/compress", openapi_extra=form_body(models.CompressForm), responses={**SYNC_RESPONSES, **CONVERSION_ERRORS}
)
async def compress(request: Request, who: Authorized) -> Response:
    return await _convert_sync(request, who, compress=True)


def _job(request: models.ConversionRequest, prefix: str = "") -> create.JobRequest:
    return create.job_request(
        request.file_id, request.target, request.options, request.webhook_url, prefix=prefix, url=request.url,
        headers=request.headers, file_ids=request.file_ids,
    )  # fmt: skip


def _create_jobs(request: dict[str, Any], who: AuthContext, requested: list[create.JobRequest], bulk: bool) -> Any:
    if bulk:
        return create.create_jobs(
            who, requested, queues=queues, webhooks=settings, now=utcnow(), imports_queue_url=settings.imports_queue_url
        )
    return create.create_job(
        who, requested[0], queues=queues, webhooks=settings, now=utcnow(), imports_queue_url=settings.imports_queue_url
    )


# The body is validated before the idempotent call: an invalid request is refused, never remembered.
create_jobs = Idempotent(
    _create_jobs, table_name=settings.idempotency_table, expires_after_seconds=settings.idempotency_seconds
)
IdempotencyKey = Annotated[str | None, Header(max_length=MAX_KEY_LENGTH)]


def _create(
    request: Request, who: AuthContext, key: str | None, body: BaseModel, requested: list[create.JobRequest]
) -> Any:
    # A private link's headers and a document's password are no part of what makes two requests the same: never
    # stored with the key.
    secret: dict[str, Any] = {"headers": True, "options": {name: True for name in records.SECRET_OPTIONS}}
    private = {"items": {"__all__": secret}} if isinstance(body, models.BulkConversionRequest) else secret
    return create_jobs(
        key=key,
        account_id=who.account_id,
        body=body.model_dump(mode="json", exclude=private),
        lambda_context=request.scope.get("aws.context"),
        who=who,
        requested=requested,
        bulk=isinstance(body, models.BulkConversionRequest),
    )


# Every 202 carries Location (docs/api.md §4): the conversion to poll, or (bulk) the list they are in.
@app.post(
    "/v1/conversions",
    status_code=202,
    response_model=models.Conversion,
    openapi_extra=json_body(models.ConversionRequest),
    responses=JOB_ERRORS,
    **EXACT,
)
async def create_conversion(request: Request, who: Authorized, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    body = await parse_body(request, models.ConversionRequest)
    created = _create(request, who, idempotency_key, body, [_job(body)])
    return JSONResponse(created, status_code=202, headers={"Location": f"/v1/conversions/{created['id']}"})


@app.post(
    "/v1/conversions/bulk",
    status_code=202,
    response_model=models.BulkConversions,
    openapi_extra=json_body(models.BulkConversionRequest),
    responses=JOB_ERRORS,
    **EXACT,
)
async def create_bulk(request: Request, who: Authorized, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    body = await parse_body(request, models.BulkConversionRequest)
    created = _create(
        request, who, idempotency_key, body, [_job(item, f"items[{i}].") for i, item in enumerate(body.items)]
    )
    # Each item has its own Location-like id; the list of the account's conversions is where all of them are.
    return JSONResponse(created, status_code=202, headers={"Location": "/v1/conversions"})


@app.get("/v1/conversions", response_model=models.ConversionList, **EXACT)
def list_conversions(
    who: Authorized,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return records.list_conversions(who, limit=limit, cursor=cursor)


@app.get("/v1/conversions/{conversion_id}", response_model=models.Conversion, **EXACT)
def get_conversion(conversion_id: str, who: Authorized) -> dict[str, Any]:
    return records.get_conversion(who, conversion_id)


handler = instrument(http_handler(app))
