"""Conversion: sync convert and compress, async jobs (single and bulk), the formats matrix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from mangum import Mangum
from starlette.datastructures import UploadFile

from filegate import errors
from filegate.clock import utcnow
from filegate.conversion import ConversionOptions, formats_document, jobs, parse_quality
from filegate.db import bind_tables
from filegate.files.storage import Bucket
from filegate.idempotency import Idempotent
from filegate.keys.context import AuthContext
from filegate.observability import instrument
from filegate.settings import ConvertSettings
from filegate.tiers import FEATURE_BULK
from filegate.web import caller, create_app, json_body, require_feature

settings = ConvertSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
app = create_app("FileGate conversion")
Caller = Annotated[AuthContext, Depends(caller)]


async def _upload(request: Request, who: AuthContext) -> tuple[bytes, str | None, dict[str, str]]:
    """The multipart form's file and its other fields. Size limits are checked on the file itself, so a 413
    quotes the file's size (API.md) rather than the body's; the gateway caps the body anyway."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise errors.InvalidRequest("file: send the file as multipart/form-data.")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except errors.ApiError:
        raise
    except Exception as exc:  # malformed multipart bodies of every kind
        raise errors.InvalidRequest("Malformed multipart/form-data body.") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise errors.InvalidRequest("file: required, the file to convert.")
    data = await upload.read()
    jobs.check_sync_input(who, len(data))
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return data, upload.filename, fields


def _sync_response(outcome: jobs.SyncOutcome | jobs.ContinuedAsJob) -> Response:
    if isinstance(outcome, jobs.ContinuedAsJob):  # over the sync budget: it goes on as a job
        return JSONResponse(outcome.conversion, status_code=202, headers={"Location": outcome.location})
    headers = {"X-Conversion-Id": outcome.conversion_id}
    if outcome.download_url is not None:
        return JSONResponse(
            {"id": outcome.conversion_id, "status": "succeeded", "url": outcome.download_url},
            status_code=303,
            headers={**headers, "Location": outcome.download_url},
        )
    headers["Content-Disposition"] = f'attachment; filename="{outcome.filename}"'
    return Response(content=outcome.data, media_type=outcome.content_type, headers=headers)


@app.get("/v1/formats")
def supported_formats() -> dict[str, Any]:
    return formats_document()


@app.post("/v1/convert")
async def convert(request: Request, who: Caller) -> Response:
    data, filename, fields = await _upload(request, who)
    target = fields.get("target", "").strip().lower()
    if not target:
        raise errors.InvalidRequest("target: required, a format name (see GET /v1/formats).")
    options = ConversionOptions.from_form(fields)
    outcome = jobs.convert_sync(
        who, bucket, data=data, filename=filename, target=target, options=options, quality=None, now=utcnow(),
        queue_url=settings.conversions_queue_url, budget_seconds=settings.sync_budget_seconds,
    )  # fmt: skip
    return _sync_response(outcome)


@app.post("/v1/compress")
async def compress(request: Request, who: Caller) -> Response:
    data, filename, fields = await _upload(request, who)
    quality = parse_quality(fields.get("quality"))
    outcome = jobs.convert_sync(
        who,
        bucket,
        data=data,
        filename=filename,
        target=None,
        options=ConversionOptions(),
        quality=quality,
        now=utcnow(),
        queue_url=settings.conversions_queue_url,
        budget_seconds=settings.sync_budget_seconds,
    )
    return _sync_response(outcome)


def _create_jobs(request: dict[str, Any], who: AuthContext, bulk: bool) -> dict[str, Any]:
    body = request["body"]
    now = utcnow()
    if not bulk:
        job = jobs.parse_job(body)
        return jobs.create_job(who, job, queue_url=settings.conversions_queue_url, now=now)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise errors.InvalidRequest("items: required, a list of conversions.")
    if len(items) > jobs.MAX_BULK_ITEMS:
        raise errors.InvalidRequest(f"items: at most {jobs.MAX_BULK_ITEMS} conversions per request.")
    parsed = [jobs.parse_job(item, prefix=f"items[{i}].") for i, item in enumerate(items)]
    return {"data": [jobs.create_job(who, j, queue_url=settings.conversions_queue_url, now=now) for j in parsed]}


create_jobs = Idempotent(
    _create_jobs, table_name=settings.idempotency_table, expires_after_seconds=settings.idempotency_seconds
)


async def _create(request: Request, who: AuthContext, idempotency_key: str | None, *, bulk: bool) -> Any:
    return create_jobs(
        key=idempotency_key,
        account_id=who.account_id,
        body=await json_body(request),
        lambda_context=request.scope.get("aws.context"),
        who=who,
        bulk=bulk,
    )


IdempotencyKey = Annotated[str | None, Header(max_length=300)]


@app.post("/v1/conversions", status_code=202)
async def create_conversion(request: Request, who: Caller, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    return await _create(request, who, idempotency_key, bulk=False)  # type: ignore[no-any-return]


@app.post("/v1/conversions/bulk", status_code=202)
async def create_bulk(request: Request, who: Caller, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    require_feature(who, FEATURE_BULK)
    return await _create(request, who, idempotency_key, bulk=True)  # type: ignore[no-any-return]


@app.get("/v1/conversions")
def list_conversions(
    who: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return jobs.list_conversions(who, limit=limit, cursor=cursor)


@app.get("/v1/conversions/{conversion_id}")
def get_conversion(conversion_id: str, who: Caller) -> dict[str, Any]:
    return jobs.get_conversion(who, conversion_id)


handler = instrument(Mangum(app, lifespan="off"))
