"""The dashboard's HTTP side: a FastAPI app of server-rendered pages (Jinja2) under /dashboard.

Every page and action acts for the signed-in account through the same services as the API (keys, webhooks,
usage, conversions, files, audit), after the same route-table check (filegate.keys.access) an API key would
pass for the matching API route, so every rule (scopes, tier features, suspension) and every audit entry
has one home. The dashboard holds the account's full authority: its caller is an AuthContext with every
scope, and its actor in the audit log is the session.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from filegate import errors
from filegate.activity import query as activity_query
from filegate.activity import service as activity_service
from filegate.audit import service as audit
from filegate.clock import parse_iso, utcnow
from filegate.conversions import records as jobs
from filegate.dashboard import charts, conversion_rows, csrf, periods, signin
from filegate.dashboard import sessions as session_service
from filegate.dashboard.padding import Padding
from filegate.db import accounts as accounts_table
from filegate.db.accounts import AccountRecord
from filegate.db.sessions import SessionRecord
from filegate.files import service as files_service
from filegate.files.storage import Bucket
from filegate.keys import keyformat
from filegate.keys import service as key_service
from filegate.keys.access import check_route
from filegate.keys.context import SESSION_CALLER_PREFIX, AuthContext
from filegate.observability import logger
from filegate.routes import SCOPES
from filegate.settings import DashboardSettings
from filegate.tiers import MAX_ROTATION_GRACE_SECONDS, tier
from filegate.web import request_id, source_ip
from filegate.webhooks import service as webhook_service
from filegate.webhooks.events import CONVERSION_FAILED, CONVERSION_SUCCEEDED

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# docs/api.md §7: on every response, whatever answers it (pages, redirects, errors, static files).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Strict-Transport-Security": "max-age=31536000",
}

NAV: Final = (
    ("overview", "/dashboard", "Overview"),
    ("keys", "/dashboard/keys", "Keys"),
    ("usage", "/dashboard/usage", "Usage"),
    ("conversions", "/dashboard/conversions", "Conversions"),
    ("webhooks", "/dashboard/webhooks", "Webhooks"),
    ("audit", "/dashboard/audit", "Audit log"),
    ("sessions", "/dashboard/sessions", "Sessions"),
)
# Fixed notices after a redirect (?done=…): never text from the request.
NOTICES: Final = {
    "revoked": "The key was revoked. It stops working on its next request.",
    "webhook-added": "The webhook was added.",
    "webhook-deleted": "The webhook was deleted.",
    "test-sent": "A webhook.test event is on its way; its delivery is listed below.",
    "resent": "The delivery was queued again; it is listed below.",
    "session-ended": "The session was ended.",
    "others-ended": "Every other session was ended.",
}
GRACE_CHOICES: Final = ((0, "no grace"), (3600, "1 hour"), (86_400, "24 hours"))
# What pro adds, said where a free account meets it (a neutral panel, not an error): page → sentence.
PRO_FEATURES: Final = {
    "webhooks.html": "Webhooks are part of the pro plan: FileGate signs conversion.succeeded and conversion.failed "
    "events the Standard Webhooks way and delivers them to your endpoints, retrying for up to ten hours, with "
    "every delivery listed here.",
}
SPARKLINE_DAYS: Final = 7
BAD_SIGN_IN = "That code or link is not valid: it may be mistyped, used, or older than 15 minutes. Ask for a new one."
WEBHOOK_EVENTS: Final = (CONVERSION_SUCCEEDED, CONVERSION_FAILED)
SESSION_COOKIE_FLAGS: Final = "Path=/; Secure; HttpOnly; SameSite=Lax"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _SecurityHeaders:
    """Pure ASGI middleware: the security headers on every response, and the request id."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                rid = str(((scope.get("aws.event") or {}).get("requestContext") or {}).get("requestId", ""))
                headers = [(k, v) for k, v in message.get("headers", []) if bytes(k).lower() != b"cache-control"]
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if rid:
                    headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SignInRequired(Exception):
    """A page that needs a session, without one: 303 to the sign-in page."""


class Forbidden(Exception):
    """A POST without the right CSRF token, or from another site: 403."""


@dataclass(frozen=True)
class Origin:
    """Where this dashboard is, as the browser sees it (API Gateway's stage prefix included)."""

    scheme: str
    host: str
    prefix: str  # "/prod" on API Gateway's own domain, "" on the local stack

    def url(self, path: str) -> str:
        return f"{self.prefix}{path}"

    def absolute(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{self.prefix}{path}"


def origin_of(request: Request) -> Origin:
    """From API Gateway's request context (its domain name, not a client header, on AWS). On the default
    execute-api domain the stage is part of every URL; the local stack serves at the root."""
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    host = str(context.get("domainName") or request.headers.get("host") or "localhost")
    stage = str(context.get("stage") or "")
    hostname = host.split("]", 1)[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    local = hostname in ("127.0.0.1", "localhost", "[::1]")
    prefix = f"/{stage}" if stage and ".execute-api." in host else ""
    return Origin("http" if local else "https", host, prefix)


def mail_link(public_base_url: str, request: Request, path: str) -> str:
    """An absolute link for mail: under the configured PublicBaseUrl, never a request's Host header (a proxy in
    front would forward the client's); without one, API Gateway's own domain and stage."""
    if public_base_url:
        return public_base_url.rstrip("/") + path
    return origin_of(request).absolute(path)


@dataclass
class Visit:
    """A signed-in request: its session, account, the authority it acts with, and where it came from."""

    session: SessionRecord
    token: str  # the session cookie's value: the CSRF token derives from it
    account: AccountRecord
    caller: AuthContext
    ip: str
    now: datetime

    @property
    def actor(self) -> audit.Actor:
        return session_service.actor(self.session)

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.token)


def authority(account: AccountRecord, session: SessionRecord) -> AuthContext:
    """The account's full authority, as a caller of the services: every scope, its tier and status now."""
    return AuthContext(
        account_id=account.account_id,
        key_id=SESSION_CALLER_PREFIX + session.session_id,
        key_prefix="",
        tier=account.tier,
        scopes=frozenset(SCOPES),
        test_mode=False,
        suspended=account.status == "suspended",
    )


def _when(value: Any) -> str:
    """An ISO time (or datetime) as people read it: 2026-12-03 07:19 UTC."""
    if value is None or value == "":
        return "—"
    moment = value if isinstance(value, datetime) else parse_iso(str(value))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _key_state(key: Mapping[str, Any], now: datetime) -> str:
    revoked, expires = key.get("revoked_at"), key.get("expires_at")
    if revoked and parse_iso(revoked) <= now:
        return "revoked"
    if expires and parse_iso(expires) <= now:
        return "expired"
    if revoked:
        return "in rotation grace"
    return "active"


def create_app(settings: DashboardSettings, padding: Padding | None = None) -> FastAPI:
    """The dashboard; `padding` (default: the settings' floor) sets how long every sign-in answer takes."""
    padded = padding or Padding(settings.sign_in_answer_seconds)
    app = FastAPI(title="FileGate dashboard", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    templates = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["when"] = _when
    bucket = Bucket(settings.bucket)
    horizon = timedelta(seconds=settings.authorizer_cache_ttl_seconds)
    static_files = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}

    # -------------------------------------------------------------- rendering

    def render(
        request: Request, name: str, *, status: int = 200, visit: Visit | None = None, **context: Any
    ) -> HTMLResponse:
        origin = origin_of(request)
        html = templates.get_template(name).render(
            url=origin.url,
            nav=NAV,
            visit=visit,
            account=visit.account if visit else None,
            csrf_token=visit.csrf_token if visit else context.pop("login_csrf", ""),
            notice=NOTICES.get(request.query_params.get("done", "")),
            request_id=request_id(request),
            active={"revoke.html": "keys", "key.html": "keys"}.get(name, name.removesuffix(".html")),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(request: Request, path: str) -> RedirectResponse:
        return RedirectResponse(origin_of(request).url(path), status_code=303)

    def page_error(
        request: Request, visit: Visit, name: str, exc: errors.ApiError, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """The page, unable to show its data: ``exc`` says why. A failed action (``status`` and ``error`` set)
        keeps its own status and message. A page of a feature the plan lacks is a page about the plan (200),
        not a failed request."""
        if isinstance(exc, errors.TierRequired) and name in PRO_FEATURES and "error" not in context:
            return render(request, name, status=status, visit=visit, pro_feature=PRO_FEATURES[name], **context)
        if status == 200:
            status = 200 if isinstance(exc, errors.TierRequired) else exc.status
        error = context.pop("error", None) or exc.message
        return render(request, name, status=status, visit=visit, error=error, **context)

    # -------------------------------------------------------------- errors

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return redirect(request, "/dashboard/login")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", status=403, title="Request refused", message=str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = 404 if exc.status_code in (404, 405) else 400
        message = "There is no such page." if status == 404 else "The request is malformed."
        return render(request, "error.html", status=status, title="Not found" if status == 404 else "Bad request",
                      message=message)  # fmt: skip

    @app.exception_handler(errors.ApiError)
    async def _api_error(request: Request, exc: errors.ApiError) -> Response:
        return render(request, "error.html", status=exc.status, title="Not possible", message=exc.message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled dashboard error", extra={"request_id": request_id(request)})
        return render(request, "error.html", status=500, title="Something went wrong",
                      message="An internal error occurred; it has been logged.")  # fmt: skip

    # -------------------------------------------------------------- sessions and forms

    def visit_of(request: Request) -> Visit:
        now = utcnow()
        token = request.cookies.get(session_service.COOKIE)
        record = session_service.resolve(token, now)
        if record is None or token is None:
            raise SignInRequired()
        account = accounts_table.get(record.account_id)
        if account is None:
            raise SignInRequired()
        return Visit(record, token, account, authority(account, record), source_ip(request), now)

    def check_origin(request: Request) -> None:
        if not csrf.same_origin(request.headers, origin_of(request).host):
            raise Forbidden("This form was sent from another site.")

    async def posted(request: Request) -> tuple[Visit, FormData]:
        """A signed-in POST: same origin, and the session's CSRF token."""
        check_origin(request)
        visit = visit_of(request)
        form = await request.form()
        if not csrf.token_matches(visit.token, _field(form, csrf.FIELD)):
            raise Forbidden("This form has expired or did not come from this dashboard; reload the page and retry.")
        return visit, form

    async def posted_login(request: Request) -> FormData:
        """A sign-in POST: same origin, and the token bound to the sign-in cookie."""
        check_origin(request)
        form = await request.form()
        if not csrf.token_matches(request.cookies.get(csrf.LOGIN_COOKIE), _field(form, csrf.FIELD)):
            raise Forbidden("This form has expired; reload the sign-in page and retry.")
        return form

    def login_page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A sign-in page, with its CSRF token bound to the sign-in cookie (set when missing)."""
        cookie = request.cookies.get(csrf.LOGIN_COOKIE)
        fresh = not cookie or len(cookie) > 128
        value = csrf.new_login_cookie() if fresh or cookie is None else cookie
        response = render(request, name, status=status, login_csrf=csrf.token_for(value), **context)
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

    # -------------------------------------------------------------- sign-in

    @app.get("/dashboard/login")
    def login_form(request: Request) -> Response:
        # Shown even to a signed-in browser: signing in again (another account) replaces its session.
        return login_page(request, "login.html")

    @app.post("/dashboard/login")
    async def login_start(request: Request) -> Response:
        started = padded.start()
        answer = await _login_start(request)
        await padded.wait(started)
        return answer

    async def _login_start(request: Request) -> Response:
        form = await posted_login(request)
        address = signin.normalise(_field(form, "email") or "")
        if address is None:
            return login_page(request, "login.html", status=400, error="Enter a valid email address.")
        # The same page whether or not the address has an account, and whether or not a limit held it back.
        signin.start(
            address,
            ip=source_ip(request),
            now=utcnow(),
            sender=settings.email_sender,
            confirm_url=mail_link(settings.public_base_url, request, "/dashboard/login/confirm"),
        )
        return login_page(request, "login_sent.html", email=address)

    @app.post("/dashboard/login/code")
    async def login_code(request: Request) -> Response:
        started = padded.start()
        answer = await _login_code(request)
        await padded.wait(started)
        return answer

    async def _login_code(request: Request) -> Response:
        form = await posted_login(request)
        email = _field(form, "email") or ""
        account = signin.confirm_code(email, _field(form, "code") or "", utcnow())
        if account is None:
            return login_page(request, "login_sent.html", status=400, email=email, error=BAD_SIGN_IN)
        return signed_in(request, account)

    @app.get("/dashboard/login/confirm")
    def login_confirm_page(request: Request) -> Response:
        # A GET never signs anyone in: mail scanners open links. One button POSTs the token.
        return login_page(request, "login_confirm.html", token=request.query_params.get("token", ""))

    @app.post("/dashboard/login/confirm")
    async def login_confirm(request: Request) -> Response:
        started = padded.start()
        answer = await _login_confirm(request)
        await padded.wait(started)
        return answer

    async def _login_confirm(request: Request) -> Response:
        form = await posted_login(request)
        account = signin.confirm_link(_field(form, "token") or "", utcnow())
        if account is None:
            return login_page(request, "login.html", status=400, error=BAD_SIGN_IN)
        return signed_in(request, account)

    @app.post("/dashboard/logout")
    async def logout(request: Request) -> Response:
        visit, _ = await posted(request)
        session_service.end(visit.session, by=visit.session, ip=visit.ip, now=visit.now)
        response = redirect(request, "/dashboard/login")
        response.headers.append("Set-Cookie", f"{session_service.COOKIE}=; Max-Age=0; {SESSION_COOKIE_FLAGS}")
        return response

    # -------------------------------------------------------------- overview

    @app.get("/dashboard")
    def overview(request: Request) -> Response:
        visit = visit_of(request)
        plan = tier(visit.account.tier)
        try:
            check_route(visit.caller, "GET", "/v1/usage")
            me = key_service.entitlements(visit.caller, visit.now)
            first_day = (visit.now - timedelta(days=29)).date()
            report = key_service.usage_report(
                visit.caller, first_day.strftime("%Y-%m"), visit.now.strftime("%Y-%m"), visit.now
            )
        except errors.ApiError as exc:
            return page_error(request, visit, "overview.html", exc, plan=plan)
        per_day = {d["date"]: int(d["conversions"]) for d in report["days"]}
        chart = charts.bar_chart(
            periods.conversion_days(per_day, periods.days_between(first_day, visit.now.date())),
            title="Conversions per day, last 30 days", chart_id="last30",
            empty="No conversions in the last 30 days yet.",
        )  # fmt: skip
        usage = me["usage"]
        limit = me["limits"]["conversions_per_month"]
        has_key = bool(key_service.list_keys(visit.caller, limit=1, cursor=None)["data"])
        return render(
            request, "overview.html", visit=visit, plan=plan, usage=usage, limits=me["limits"], chart=chart,
            used_percent=min(100, round(100 * usage["conversions"] / limit)) if limit else 0,
            has_key=has_key, api_base=origin_of(request).absolute(""),
        )  # fmt: skip

    # -------------------------------------------------------------- keys

    def keys_page(request: Request, visit: Visit, *, status: int = 200, **context: Any) -> HTMLResponse:
        cursor = request.query_params.get("cursor")
        try:
            check_route(visit.caller, "GET", "/v1/keys")
            page = key_service.list_keys(visit.caller, limit=50, cursor=cursor)
        except errors.ApiError as exc:
            return page_error(
                request, visit, "keys.html", exc, status=status, keys=[], scopes=SCOPES, grace_choices=GRACE_CHOICES,
                **context,
            )  # fmt: skip
        per_day = activity_query.daily_requests([k["id"] for k in page["data"]], SPARKLINE_DAYS, visit.now)
        keys = [
            {
                **k, "mode": keyformat.mode_of(k["key_prefix"]), "state": _key_state(k, visit.now),
                "spark": charts.sparkline(
                    per_day[k["id"]],
                    label=f"{sum(per_day[k['id']]):,} requests in the last {SPARKLINE_DAYS} days, "
                    f"{max(per_day[k['id']]):,} on the busiest day",
                ),
            }
            for k in page["data"]
        ]  # fmt: skip
        return render(
            request, "keys.html", status=status, visit=visit, keys=keys, next_cursor=page["next_cursor"],
            scopes=SCOPES, grace_choices=GRACE_CHOICES, api_base=origin_of(request).absolute(""), **context,
        )  # fmt: skip

    @app.get("/dashboard/keys")
    def keys(request: Request) -> Response:
        return keys_page(request, visit_of(request))

    @app.post("/dashboard/keys")
    async def create_key(request: Request) -> Response:
        visit, form = await posted(request)
        try:
            check_route(visit.caller, "POST", "/v1/keys")
            issued = key_service.create_key(
                visit.caller,
                name=_field(form, "name") or "",
                scopes=[str(s) for s in form.getlist("scopes")],
                allowed_ips=_list_field(form, "allowed_ips"),
                expires_at=_date_field(form, "expires_on"),
                mode="test" if _field(form, "mode") == "test" else "live",
                now=visit.now,
                actor=visit.actor,
                ip=visit.ip,
            )
        except errors.ApiError as exc:
            return keys_page(request, visit, status=exc.status, error=exc.message)
        return keys_page(request, visit, new_key=issued.as_json(), new_key_verb="created")

    @app.post("/dashboard/keys/{key_id}/rotate")
    async def rotate_key(request: Request, key_id: str) -> Response:
        visit, form = await posted(request)
        try:
            check_route(visit.caller, "POST", "/v1/keys/{id}/rotate")
            grace = int(_field(form, "grace_seconds") or "0")
            if not 0 <= grace <= MAX_ROTATION_GRACE_SECONDS:
                raise errors.InvalidRequest(f"grace_seconds: must be 0 to {MAX_ROTATION_GRACE_SECONDS}.")
            issued = key_service.rotate_key(
                visit.caller, key_id, grace_seconds=grace, now=visit.now, horizon=horizon, actor=visit.actor,
                ip=visit.ip,
            )  # fmt: skip
        except ValueError:
            return keys_page(request, visit, status=400, error="grace_seconds: must be a number of seconds.")
        except errors.ApiError as exc:
            return keys_page(request, visit, status=exc.status, error=exc.message)
        return keys_page(request, visit, new_key=issued.as_json(), new_key_verb="rotated")

    @app.get("/dashboard/keys/{key_id}")
    def key_page(request: Request, key_id: str) -> Response:
        visit = visit_of(request)
        check_route(visit.caller, "GET", "/v1/keys/{id}/activity")
        chosen = next((r for r in periods.RANGES if r[0] == request.query_params.get("range")), periods.RANGES[0])
        value, words, hours, granularity = chosen
        key = key_service.get_key(visit.caller, key_id)
        start = visit.now - timedelta(hours=hours)
        activity = activity_service.for_account(
            visit.account.account_id, key_id, start, visit.now, granularity, visit.now
        )
        buckets = activity["data"]
        totals = {f: sum(int(b[f]) for b in buckets) for f in ("requests", "conversions", "units")}
        chart = charts.stacked_bar_chart(
            periods.activity_periods(buckets, granularity), periods.OUTCOME_SERIES,
            title=f"Requests of {key['name']} by outcome, last {words}", chart_id="activity", unit="requests",
            empty=f"No requests with this key in the last {words}.",
        )  # fmt: skip
        outcomes = [(s, sum(int(b[s.field]) for b in buckets)) for s in periods.OUTCOME_SERIES]
        return render(
            request, "key.html", visit=visit, key={**key, "state": _key_state(key, visit.now)}, chart=chart,
            ranges=periods.RANGES, chosen=value, words=words, totals=totals, outcomes=outcomes, activity=activity,
        )  # fmt: skip

    @app.get("/dashboard/keys/{key_id}/revoke")
    def revoke_confirmation(request: Request, key_id: str) -> Response:
        visit = visit_of(request)
        check_route(visit.caller, "DELETE", "/v1/keys/{id}")
        return render(request, "revoke.html", visit=visit, key=key_service.get_key(visit.caller, key_id))

    @app.post("/dashboard/keys/{key_id}/revoke")
    async def revoke_key(request: Request, key_id: str) -> Response:
        visit, _ = await posted(request)
        check_route(visit.caller, "DELETE", "/v1/keys/{id}")
        key_service.revoke_key(visit.caller, key_id, now=visit.now, horizon=horizon, actor=visit.actor, ip=visit.ip)
        return redirect(request, "/dashboard/keys?done=revoked")

    # -------------------------------------------------------------- usage

    def usage_report(request: Request, visit: Visit) -> dict[str, Any]:
        check_route(visit.caller, "GET", "/v1/usage")
        start = request.query_params.get("from")
        if start is None:
            first = (visit.now.replace(day=1) - timedelta(days=150)).replace(day=1)  # this month and 5 before
            start = first.strftime("%Y-%m")
        return key_service.usage_report(visit.caller, start, request.query_params.get("to"), visit.now)

    @app.get("/dashboard/usage")
    def usage(request: Request) -> Response:
        visit = visit_of(request)
        try:
            report = usage_report(request, visit)
        except errors.ApiError as exc:
            return page_error(request, visit, "usage.html", exc, report=None)
        per_day = {d["date"]: int(d["conversions"]) for d in report["days"]}
        first = datetime.strptime(str(report["from"]), "%Y-%m").date()
        last = min(
            visit.now.date(),
            (datetime.strptime(str(report["to"]), "%Y-%m") + timedelta(days=31)).replace(day=1).date()
            - timedelta(days=1),
        )
        return render(
            request, "usage.html", visit=visit, report=report,
            month_chart=charts.bar_chart(
                periods.months(report["months"]), title="Conversions per month", chart_id="months",
                empty="No conversions in these months yet.",
            ),
            day_chart=charts.bar_chart(
                periods.conversion_days(per_day, periods.days_between(first, max(first, last))),
                title="Conversions per day", chart_id="days", empty="No conversions on these days yet.",
            ),
        )  # fmt: skip

    @app.get("/dashboard/usage.csv")
    def usage_csv(request: Request) -> Response:
        visit = visit_of(request)
        report = usage_report(request, visit)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["period", "kind", "conversions"])
        writer.writerows([m["month"], "month", m["conversions"]] for m in report["months"])
        writer.writerows([d["date"], "day", d["conversions"]] for d in report["days"])
        name = f"filegate-usage-{report['from']}-to-{report['to']}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -------------------------------------------------------------- conversions

    @app.get("/dashboard/conversions")
    def conversions(request: Request) -> Response:
        visit = visit_of(request)
        try:
            check_route(visit.caller, "GET", "/v1/conversions")
            page = conversion_rows.rows(visit.account.account_id, limit=25, cursor=request.query_params.get("cursor"))
        except errors.ApiError as exc:
            return page_error(request, visit, "conversions.html", exc, conversions=[])
        return render(
            request, "conversions.html", visit=visit, conversions=page["data"], next_cursor=page["next_cursor"]
        )

    @app.get("/dashboard/conversions/{conversion_id}/download")
    def download(request: Request, conversion_id: str) -> Response:
        visit = visit_of(request)
        check_route(visit.caller, "GET", "/v1/files/{id}/content")
        conversion = jobs.get_conversion(visit.caller, conversion_id)
        if not conversion.get("output_file_id"):
            raise errors.Conflict("This conversion has no output to download.")
        url = files_service.download_url(visit.caller, bucket, str(conversion["output_file_id"]), visit.now)
        return RedirectResponse(url, status_code=303)

    # -------------------------------------------------------------- webhooks

    def webhooks_page(request: Request, visit: Visit, *, status: int = 200, **context: Any) -> HTMLResponse:
        base: dict[str, Any] = {"webhooks": [], "events": WEBHOOK_EVENTS, "secret": None, **context}
        try:
            check_route(visit.caller, "GET", "/v1/webhooks")
            listing = webhook_service.list_webhooks(visit.caller, visit.now)
            base.update(webhooks=listing["data"], secret=listing["signing_secret"])
            chosen = request.query_params.get("deliveries")
            if chosen:
                page = webhook_service.list_deliveries(visit.caller, chosen, limit=25, cursor=None)
                base.update(deliveries=page["data"], deliveries_of=chosen)
        except errors.ApiError as exc:
            return page_error(request, visit, "webhooks.html", exc, status=status, **base)
        return render(request, "webhooks.html", status=status, visit=visit, **base)

    @app.get("/dashboard/webhooks")
    def webhooks(request: Request) -> Response:
        return webhooks_page(request, visit_of(request))

    @app.post("/dashboard/webhooks")
    async def add_webhook(request: Request) -> Response:
        visit, form = await posted(request)
        try:
            check_route(visit.caller, "POST", "/v1/webhooks")
            webhook_service.register_webhook(
                visit.caller, settings, url=_field(form, "url") or "", events=[str(e) for e in form.getlist("events")],
                now=visit.now, actor=visit.actor, ip=visit.ip,
            )  # fmt: skip
        except errors.ApiError as exc:
            return webhooks_page(request, visit, status=exc.status, error=exc.message)
        return redirect(request, "/dashboard/webhooks?done=webhook-added")

    @app.post("/dashboard/webhooks/secret")
    async def rotate_secret(request: Request) -> Response:
        visit, _ = await posted(request)
        try:
            check_route(visit.caller, "POST", "/v1/webhooks/secret")
            created = webhook_service.create_or_rotate_secret(visit.caller, visit.now, actor=visit.actor, ip=visit.ip)
        except errors.ApiError as exc:
            return webhooks_page(request, visit, status=exc.status, error=exc.message)
        return webhooks_page(request, visit, shown_secret=created["secret"], shown_which="new")

    @app.post("/dashboard/webhooks/secret/reveal")
    async def reveal_secret(request: Request) -> Response:
        visit, _ = await posted(request)
        try:
            check_route(visit.caller, "GET", "/v1/webhooks/secret")
            shown = webhook_service.reveal_secret(visit.caller, visit.now, actor=visit.actor, ip=visit.ip)
        except errors.ApiError as exc:
            return webhooks_page(request, visit, status=exc.status, error=exc.message)
        return webhooks_page(request, visit, shown_secret=shown["secret"], shown_which="current")

    @app.post("/dashboard/webhooks/{webhook_id}/delete")
    async def delete_webhook(request: Request, webhook_id: str) -> Response:
        visit, _ = await posted(request)
        check_route(visit.caller, "DELETE", "/v1/webhooks/{id}")
        webhook_service.delete_webhook(visit.caller, webhook_id, now=visit.now, actor=visit.actor, ip=visit.ip)
        return redirect(request, "/dashboard/webhooks?done=webhook-deleted")

    @app.post("/dashboard/webhooks/{webhook_id}/test")
    async def test_webhook(request: Request, webhook_id: str) -> Response:
        visit, _ = await posted(request)
        check_route(visit.caller, "POST", "/v1/webhooks/{id}/test")
        webhook_service.send_test(visit.caller, settings, webhook_id, visit.now)
        return redirect(request, f"/dashboard/webhooks?deliveries={webhook_id}&done=test-sent")

    @app.post("/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}/resend")
    async def resend(request: Request, webhook_id: str, delivery_id: str) -> Response:
        visit, _ = await posted(request)
        check_route(visit.caller, "POST", "/v1/webhooks/{id}/test")  # sends to the endpoint, like a test
        webhook_service.resend_delivery(visit.caller, settings, webhook_id, delivery_id, visit.now)
        return redirect(request, f"/dashboard/webhooks?deliveries={webhook_id}&done=resent")

    # -------------------------------------------------------------- audit and sessions

    @app.get("/dashboard/audit")
    def audit_log(request: Request) -> Response:
        visit = visit_of(request)
        try:
            check_route(visit.caller, "GET", "/v1/audit")
            page = audit.list_entries(
                visit.account.account_id, limit=50, cursor=request.query_params.get("cursor"), now=visit.now
            )
        except errors.ApiError as exc:
            return page_error(request, visit, "audit.html", exc, entries=[])
        return render(request, "audit.html", visit=visit, entries=page["data"], next_cursor=page["next_cursor"])

    @app.get("/dashboard/sessions")
    def sessions(request: Request) -> Response:
        visit = visit_of(request)
        live = session_service.live_sessions(visit.account.account_id, visit.now)
        return render(request, "sessions.html", visit=visit, sessions=live)

    @app.post("/dashboard/sessions/end-others")
    async def end_others(request: Request) -> Response:
        visit, _ = await posted(request)
        session_service.end_others(visit.session, ip=visit.ip, now=visit.now)
        return redirect(request, "/dashboard/sessions?done=others-ended")

    @app.post("/dashboard/sessions/{session_id}/end")
    async def end_session(request: Request, session_id: str) -> Response:
        visit, _ = await posted(request)
        if not session_service.end_one(visit.session, session_id, ip=visit.ip, now=visit.now):
            raise errors.NotFound("No such session.")
        if session_id == visit.session.session_id:
            response = redirect(request, "/dashboard/login")
            response.headers.append("Set-Cookie", f"{session_service.COOKIE}=; Max-Age=0; {SESSION_COOKIE_FLAGS}")
            return response
        return redirect(request, "/dashboard/sessions?done=session-ended")

    # -------------------------------------------------------------- static files

    @app.get("/dashboard/static/{name}")
    def static(name: str) -> Response:
        path = static_files.get(name)  # only the files that ship: no path is built from the request
        if path is None:
            raise StarletteHTTPException(404)
        return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix])

    app.add_middleware(_SecurityHeaders)
    return app


# ------------------------------------------------------------------ form fields


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _list_field(form: FormData, name: str) -> list[str]:
    """A textarea of entries separated by commas, spaces or new lines."""
    raw = _field(form, name) or ""
    return [part for part in raw.replace(",", " ").split() if part]


def _date_field(form: FormData, name: str) -> datetime | None:
    """A date input (YYYY-MM-DD) as the start of that day, UTC; empty means none."""
    raw = (_field(form, name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise errors.InvalidRequest(f"{name}: must be a date, YYYY-MM-DD.") from exc
