"""Signing in (by mailed code or link) and out. Every sign-in answer takes the same time (Padding), whatever
it found."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filegate.clock import utcnow
from filegate.dashboard import csrf, signin
from filegate.dashboard import sessions as session_service
from filegate.dashboard.forms import field
from filegate.dashboard.origin import mail_link
from filegate.dashboard.rendering import SESSION_COOKIE_FLAGS, Dashboard, Site, redirect
from filegate.dashboard.visits import SignedInForm
from filegate.db.accounts import AccountRecord
from filegate.web import source_ip

BAD_SIGN_IN = "That code or link is not valid: it may be mistyped, used, or older than 15 minutes. Ask for a new one."

# How a sign-in POST is answered, before the padding.
Answer = Callable[[Dashboard, Request], Awaitable[Response]]

router = APIRouter()


def login_page(site: Dashboard, request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A sign-in page, with its CSRF token bound to the sign-in cookie (set when missing)."""
    cookie = request.cookies.get(csrf.LOGIN_COOKIE)
    fresh = not cookie or len(cookie) > 128
    value = csrf.new_login_cookie() if fresh or cookie is None else cookie
    response = site.render(request, name, status=status, login_csrf=csrf.token_for(value), **context)
    if fresh:
        response.headers.append(
            "Set-Cookie",
            f"{csrf.LOGIN_COOKIE}={value}; Max-Age={csrf.LOGIN_COOKIE_SECONDS}; {SESSION_COOKIE_FLAGS}",
        )
    return response


def signed_in(request: Request, account: AccountRecord) -> Response:
    """A new session (a new id at every sign-in; the browser's previous one ends) and its cookie."""
    now = utcnow()
    ip = source_ip(request)
    previous = session_service.resolve(request.cookies.get(session_service.COOKIE), now)
    new = session_service.create(account, ip=ip, user_agent=request.headers.get("user-agent", ""), now=now)
    if previous is not None:
        session_service.end(previous, by=previous, ip=ip, now=now)
    response = redirect(request, "/dashboard")
    response.headers.append("Set-Cookie", f"{session_service.COOKIE}={new.token}; {SESSION_COOKIE_FLAGS}")
    return response


async def padded(site: Dashboard, request: Request, answer: Answer) -> Response:
    """``answer``, taking as long as every sign-in answer takes: how long it took tells nothing (whether the
    address has an account, whether the code was right)."""
    started = site.padded.start()
    response = await answer(site, request)
    await site.padded.wait(started)
    return response


@router.get("/dashboard/login")
def _login_form(request: Request, site: Site) -> Response:
    # Shown even to a signed-in browser: signing in again (another account) replaces its session.
    return login_page(site, request, "login.html")


@router.post("/dashboard/login")
async def _login_start(request: Request, site: Site) -> Response:
    return await padded(site, request, _start_sign_in)


async def _start_sign_in(site: Dashboard, request: Request) -> Response:
    form = await csrf.login_form(request)
    address = signin.normalise(field(form, "email") or "")
    if address is None:
        return login_page(site, request, "login.html", status=400, error="Enter a valid email address.")
    # The same page whether or not the address has an account, and whether or not a limit held it back.
    signin.start(
        address,
        ip=source_ip(request),
        now=utcnow(),
        sender=site.settings.email_sender,
        confirm_url=mail_link(site.settings.public_base_url, request, "/dashboard/login/confirm"),
    )
    return login_page(site, request, "login_sent.html", email=address)


@router.post("/dashboard/login/code")
async def _login_code(request: Request, site: Site) -> Response:
    return await padded(site, request, _sign_in_by_code)


async def _sign_in_by_code(site: Dashboard, request: Request) -> Response:
    form = await csrf.login_form(request)
    email = field(form, "email") or ""
    account = signin.confirm_code(email, field(form, "code") or "", utcnow())
    if account is None:
        return login_page(site, request, "login_sent.html", status=400, email=email, error=BAD_SIGN_IN)
    return signed_in(request, account)


@router.get("/dashboard/login/confirm")
def _login_confirm_page(request: Request, site: Site) -> Response:
    # A GET never signs anyone in: mail scanners open links. One button POSTs the token.
    return login_page(site, request, "login_confirm.html", token=request.query_params.get("token", ""))


@router.post("/dashboard/login/confirm")
async def _login_confirm(request: Request, site: Site) -> Response:
    return await padded(site, request, _sign_in_by_link)


async def _sign_in_by_link(site: Dashboard, request: Request) -> Response:
    form = await csrf.login_form(request)
    account = signin.confirm_link(field(form, "token") or "", utcnow())
    if account is None:
        return login_page(site, request, "login.html", status=400, error=BAD_SIGN_IN)
    return signed_in(request, account)


@router.post("/dashboard/logout")
async def _logout(request: Request, posted: SignedInForm) -> Response:
    visit, _ = posted
    session_service.end(visit.session, by=visit.session, ip=visit.ip, now=visit.now)
    response = redirect(request, "/dashboard/login")
    response.headers.append("Set-Cookie", f"{session_service.COOKIE}=; Max-Age=0; {SESSION_COOKIE_FLAGS}")
    return response
