"""The dashboard's script, style sheet and images: only the files that ship."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from filegate.dashboard.rendering import STATIC_TYPES, Site

router = APIRouter()


@router.get("/dashboard/static/{name}")
def _static(name: str, site: Site) -> Response:
    path = site.static_files.get(name)  # only the files that ship: no path is built from the request
    if path is None:
        raise StarletteHTTPException(404)
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix])
