"""Files: presigned uploads, completion, listing, downloads and deletion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from filegate import errors
from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.db import bind_tables
from filegate.files import import_requests
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.lambda_http import http_handler
from filegate.models import files as models
from filegate.models.base import EXACT, json_body, may_send
from filegate.observability import instrument
from filegate.settings import FilesSettings
from filegate.web import authorized, create_app, parse_body

settings = FilesSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
app = create_app("FileGate files")
Authorized = Annotated[AuthContext, Depends(authorized)]


@app.post(
    "/v1/files",
    status_code=201,
    response_model=models.NewFile,
    openapi_extra=json_body(models.CreateFileRequest),
    **EXACT,
)
async def create_file(request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, models.CreateFileRequest)
    return files_service.create_upload(
        who, bucket, filename=body.filename, declared_type=body.content_type, size=body.size, now=utcnow()
    )


@app.post(
    "/v1/files/import",
    status_code=202,
    response_model=models.File,
    openapi_extra=json_body(models.ImportFileRequest),
    responses=may_send(errors.UnsupportedMediaType),
    **EXACT,
)
async def import_file(request: Request, who: Authorized) -> JSONResponse:
    body = await parse_body(request, models.ImportFileRequest)
    created = import_requests.import_file(
        who,
        url=body.url,
        filename=body.filename,
        headers=body.headers,
        egress=settings,
        queue_url=settings.imports_queue_url,
        now=utcnow(),
    )
    return JSONResponse(created, status_code=202, headers={"Location": f"/v1/files/{created['id']}"})


@app.post(
    "/v1/files/{file_id}/complete",
    response_model=models.File,
    responses=may_send(errors.Conflict, errors.FileTooLarge, errors.UnsupportedMediaType),
    **EXACT,
)
def complete_file(file_id: str, who: Authorized) -> dict[str, Any]:
    return files_service.complete_upload(who, bucket, file_id, utcnow())


@app.get("/v1/files", response_model=models.FileList, **EXACT)
def list_files(
    who: Authorized,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return files_service.list_files(who, limit=limit, cursor=cursor, now=utcnow())


@app.get("/v1/files/{file_id}", response_model=models.File, **EXACT)
def get_file(file_id: str, who: Authorized) -> dict[str, Any]:
    return files_service.get_file(who, file_id, utcnow())


@app.get(
    "/v1/files/{file_id}/content",
    status_code=302,
    response_description="A presigned GET (5 minutes) in Location.",
    responses=may_send(errors.Conflict),
)
def file_content(file_id: str, who: Authorized) -> Response:
    return RedirectResponse(files_service.download_url(who, bucket, file_id, utcnow()), status_code=302)


@app.delete("/v1/files/{file_id}", status_code=204)
def delete_file(file_id: str, who: Authorized) -> Response:
    files_service.delete_file(who, bucket, file_id, utcnow())
    return Response(status_code=204)


handler = instrument(http_handler(app))
