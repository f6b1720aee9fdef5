"""What every page shares: the app's settings and templates, rendering a page, redirecting, and a page unable
to show its data. One `Dashboard` per app, reached by a page through the `Site` dependency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from filegate import errors
from filegate.clock import parse_iso
from filegate.dashboard.origin import origin_of
from filegate.dashboard.padding import Padding
from filegate.dashboard.visits import Visit
from filegate.files.storage import Bucket
from filegate.settings import DashboardSettings
from filegate.web import request_id

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
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
# What pro adds, said where a free account meets it (a neutral panel, not an error): page → sentence.
PRO_FEATURES: Final = {
    "webhooks.html": "Webhooks are part of the pro plan: FileGate signs conversion.succeeded and conversion.failed "
    "events the Standard Webhooks way and delivers them to your endpoints, retrying for up to ten hours, with "
    "every delivery listed here.",
}
SESSION_COOKIE_FLAGS: Final = "Path=/; Secure; HttpOnly; SameSite=Lax"


def when(value: Any) -> str:
    """An ISO time (or datetime) as people read it: 2026-12-03 07:19 UTC."""
    if value is None or value == "":
        return "—"
    moment = value if isinstance(value, datetime) else parse_iso(str(value))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(origin_of(request).url(path), status_code=303)


@dataclass
class Dashboard:
    """One app's settings and what it built from them once."""

    settings: DashboardSettings
    padded: Padding  # how long every sign-in answer takes
    templates: Environment
    bucket: Bucket
    horizon: timedelta  # how long the authorizer may cache a key's policy
    static_files: dict[str, Path]

    @classmethod
    def build(cls, settings: DashboardSettings, padding: Padding | None) -> Dashboard:
        templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        templates.filters["when"] = when
        return cls(
            settings=settings,
            padded=padding or Padding(settings.sign_in_answer_seconds),
            templates=templates,
            bucket=Bucket(settings.bucket),
            horizon=timedelta(seconds=settings.authorizer_cache_ttl_seconds),
            static_files={p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES},
        )

    def render(
        self, request: Request, name: str, *, status: int = 200, visit: Visit | None = None, **context: Any
    ) -> HTMLResponse:
        origin = origin_of(request)
        html = self.templates.get_template(name).render(
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

    def page_error(
        self, request: Request, visit: Visit, name: str, exc: errors.ApiError, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """The page, unable to show its data: ``exc`` says why. A failed action (``status`` and ``error`` set)
        keeps its own status and message. A page of a feature the plan lacks is a page about the plan (200),
        not a failed request."""
        if isinstance(exc, errors.TierRequired) and name in PRO_FEATURES and "error" not in context:
            return self.render(request, name, status=status, visit=visit, pro_feature=PRO_FEATURES[name], **context)
        if status == 200:
            status = 200 if isinstance(exc, errors.TierRequired) else exc.status
        error = context.pop("error", None) or exc.message
        return self.render(request, name, status=status, visit=visit, error=error, **context)


def dashboard_of(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


Site = Annotated[Dashboard, Depends(dashboard_of)]
