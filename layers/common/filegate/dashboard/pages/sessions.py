"""The account's live sessions, and ending them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from filegate import errors
from filegate.dashboard import sessions as session_service
from filegate.dashboard.rendering import SESSION_COOKIE_FLAGS, Site, redirect
from filegate.dashboard.visits import SignedIn, SignedInForm

router = APIRouter()


@router.get("/dashboard/sessions")
def _sessions(request: Request, site: Site, visit: SignedIn) -> Response:
    live = session_service.live_sessions(visit.account.account_id, visit.now)
    return site.render(request, "sessions.html", visit=visit, sessions=live)


@router.post("/dashboard/sessions/end-others")
async def _end_others(request: Request, posted: SignedInForm) -> Response:
    visit, _ = posted
    session_service.end_others(visit.session, ip=visit.ip, now=visit.now)
    return redirect(request, "/dashboard/sessions?done=others-ended")


@router.post("/dashboard/sessions/{session_id}/end")
async def _end_session(request: Request, session_id: str, posted: SignedInForm) -> Response:
    visit, _ = posted
    if not session_service.end_one(visit.session, session_id, ip=visit.ip, now=visit.now):
        raise errors.NotFound("No such session.")
    if session_id == visit.session.session_id:
        response = redirect(request, "/dashboard/login")
        response.headers.append("Set-Cookie", f"{session_service.COOKIE}=; Max-Age=0; {SESSION_COOKIE_FLAGS}")
        return response
    return redirect(request, "/dashboard/sessions?done=session-ended")
