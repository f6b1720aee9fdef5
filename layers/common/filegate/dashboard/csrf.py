"""Cross-site request forgery (docs/api.md §7): every form carries ``csrf_token``, bound to the session (before
sign-in, to a short-lived cookie of its own), and a POST whose ``Origin`` or ``Sec-Fetch-Site`` says another
site is refused.

A token is an HMAC of the cookie's value: nothing to store, it changes with every session, and it reveals
nothing of the cookie (which script cannot read: HttpOnly).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import FormData

from filegate.dashboard.forms import field
from filegate.dashboard.origin import origin_of

FIELD: Final = "csrf_token"
LOGIN_COOKIE: Final = "__Host-fg_login"
LOGIN_COOKIE_SECONDS: Final = 3600
_PURPOSE = b"filegate-dashboard-csrf-v1"


def new_login_cookie() -> str:
    return secrets.token_urlsafe(32)


def token_for(cookie_value: str) -> str:
    digest = hmac.new(cookie_value.encode(), _PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_matches(cookie_value: str | None, given: str | None) -> bool:
    if not cookie_value or not given:
        return False
    return hmac.compare_digest(token_for(cookie_value), given)


def same_origin(headers: Mapping[str, str], host: str) -> bool:
    """False when the browser says the request came from another site: ``Sec-Fetch-Site`` other than
    same-origin or none (a person typing the address), an ``Origin`` whose host is not this one, or
    ``Origin: null`` without ``Sec-Fetch-Site: same-origin``. Clients that send neither are judged by the
    token alone."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        # Browsers send "Origin: null" with a form POST from a page whose Referrer-Policy is no-referrer, as
        # ours is; Sec-Fetch-Site, which that policy leaves alone, must then vouch for it.
        return site == "same-origin"
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()


class Forbidden(Exception):
    """A POST without the right CSRF token, or from another site: 403."""


def check_origin(request: Request) -> None:
    if not same_origin(request.headers, origin_of(request).host):
        raise Forbidden("This form was sent from another site.")


async def login_form(request: Request) -> FormData:
    """A sign-in POST's form: same origin, and the token bound to the sign-in cookie."""
    check_origin(request)
    form = await request.form()
    if not token_matches(request.cookies.get(LOGIN_COOKIE), field(form, FIELD)):
        raise Forbidden("This form has expired; reload the sign-in page and retry.")
    return form
