"""The audit log of the account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from filegate import errors
from filegate.audit import service as audit
from filegate.dashboard.rendering import Site
from filegate.dashboard.visits import SignedIn
from filegate.keys.access import check_route

router = APIRouter()


@router.get("/dashboard/audit")
def _audit_log(request: Request, site: Site, visit: SignedIn) -> Response:
    try:
        check_route(visit.caller, "GET", "/v1/audit")
        page = audit.list_entries(
            visit.account.account_id, limit=50, cursor=request.query_params.get("cursor"), now=visit.now
        )
    except errors.ApiError as exc:
        return site.page_error(request, visit, "audit.html", exc, entries=[])
    return site.render(request, "audit.html", visit=visit, entries=page["data"], next_cursor=page["next_cursor"])
