"""Conversions: the account's latest, and a link to each output."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from filegate import errors
from filegate.conversions import records as jobs
from filegate.dashboard import conversion_rows
from filegate.dashboard.rendering import Site
from filegate.dashboard.visits import SignedIn
from filegate.files import service as files_service
from filegate.keys.access import check_route

router = APIRouter()


@router.get("/dashboard/conversions")
def _conversions(request: Request, site: Site, visit: SignedIn) -> Response:
    try:
        check_route(visit.caller, "GET", "/v1/conversions")
        page = conversion_rows.rows(visit.account.account_id, limit=25, cursor=request.query_params.get("cursor"))
    except errors.ApiError as exc:
        return site.page_error(request, visit, "conversions.html", exc, conversions=[])
    return site.render(
        request, "conversions.html", visit=visit, conversions=page["data"], next_cursor=page["next_cursor"]
    )


@router.get("/dashboard/conversions/{conversion_id}/download")
def _download(conversion_id: str, site: Site, visit: SignedIn) -> Response:
    check_route(visit.caller, "GET", "/v1/files/{id}/content")
    conversion = jobs.get_conversion(visit.caller, conversion_id)
    if not conversion.get("output_file_id"):
        raise errors.Conflict("This conversion has no output to download.")
    url = files_service.download_url(visit.caller, site.bucket, str(conversion["output_file_id"]), visit.now)
    return RedirectResponse(url, status_code=303)
