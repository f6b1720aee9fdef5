"""The dashboard's HTTP side: a FastAPI app of server-rendered pages (Jinja2) under /dashboard, one router
per page (filegate.dashboard.pages).

Every page and action acts for the signed-in account through the same services as the API (keys, webhooks,
usage, conversions, files, audit), after the same route-table check (filegate.keys.access) an API key would
pass for the matching API route, so every rule (scopes, tier features, suspension) and every audit entry
has one home (filegate.dashboard.visits).
"""

from __future__ import annotations

from fastapi import FastAPI

from filegate.dashboard import error_pages
from filegate.dashboard.headers import SecurityHeaders
from filegate.dashboard.origin import mail_link, origin_of
from filegate.dashboard.padding import Padding
from filegate.dashboard.pages import audit, conversions, keys, overview, sessions, sign_in, static, usage, webhooks
from filegate.dashboard.rendering import Dashboard
from filegate.settings import DashboardSettings

__all__ = ["create_app", "mail_link", "origin_of"]

PAGES = (sign_in, overview, keys, usage, conversions, webhooks, audit, sessions, static)


def create_app(settings: DashboardSettings, padding: Padding | None = None) -> FastAPI:
    """The dashboard; `padding` (default: the settings' floor) sets how long every sign-in answer takes."""
    app = FastAPI(title="FileGate dashboard", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    app.state.dashboard = Dashboard.build(settings, padding)
    error_pages.install(app)
    for page in PAGES:
        app.include_router(page.router)
    app.add_middleware(SecurityHeaders)
    return app
