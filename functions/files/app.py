"""Files: presigned uploads, completion, listing, downloads and deletion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import Field

from filegate.clock import utcnow
from filegate.context import AuthContext
from filegate.db import bind_tables
from filegate.files import import_requests
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.lambda_http import http_handler
from filegate.observability import instrument
from filegate.settings import FilesSettings
from filegate.web import RequestBody, authorized, create_app, parse_body

settings = FilesSettings.from_env()
bind_tables(settings)
bucket = Bucket(settings.bucket)
app = create_app("FileGate files")
Authorized = Annotated[AuthContext, Depends(authorized)]


class CreateFileRequest(RequestBody):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str | None = Field(default=None, max_length=255)
    size: int = Field(ge=0)  # 0 is refused by the one size rule, naming `file`


@app.post("/v1/files", status_code=201)
async def create_file(request: Request, who: Authorized) -> dict[str, Any]:
    body = await parse_body(request, CreateFileRequest)
    return files_service.create_upload(
        who, bucket, filename=body.filename, declared_type=body.content_type, size=body.size, now=utcnow()
    )


class ImportFileRequest(RequestBody):
    url: str = Field(min_length=1, max_length=2048)
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    headers: dict[str, str] | None = Field(default=None, max_length=10)  # checked by the import's own rules


@app.post("/v1/files/import", status_code=202)
async def import_file(request: Request, who: Authorized) -> JSONResponse:
    body = await parse_body(request, ImportFileRequest)
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


@app.post("/v1/files/{file_id}/complete")
def complete_file(file_id: str, who: Authorized) -> dict[str, Any]:
    return files_service.complete_upload(who, bucket, file_id, utcnow())


@app.get("/v1/files")
def list_files(
    who: Authorized,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return files_service.list_files(who, limit=limit, cursor=cursor, now=utcnow())


@app.get("/v1/files/{file_id}")
def get_file(file_id: str, who: Authorized) -> dict[str, Any]:
    return files_service.get_file(who, file_id, utcnow())


@app.get("/v1/files/{file_id}/content")
def file_content(file_id: str, who: Authorized) -> Response:
    return RedirectResponse(files_service.download_url(who, bucket, file_id, utcnow()), status_code=302)


@app.delete("/v1/files/{file_id}", status_code=204)
def delete_file(file_id: str, who: Authorized) -> Response:
    files_service.delete_file(who, bucket, file_id, utcnow())
    return Response(status_code=204)


handler = instrument(http_handler(app))
