"""The dashboard: server-rendered pages under /dashboard, passwordless sign-in, sessions (filegate.dashboard)."""

from __future__ import annotations

from filegate.dashboard.web import create_app
from filegate.db import bind_tables
from filegate.lambda_http import http_handler
from filegate.observability import instrument
from filegate.settings import DashboardSettings

settings = DashboardSettings.from_env()
bind_tables(settings)
app = create_app(settings)

handler = instrument(http_handler(app))
