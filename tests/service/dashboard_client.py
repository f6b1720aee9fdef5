"""A browser for the service tier: the dashboard through the in-process gateway, with a cookie jar, the
headers a browser sends on a same-origin form post, and the forms' CSRF tokens read from the pages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from filegate_local.mailbox import messages
from tests.service.harness import Response, ServiceApi, next_source_ip
from tests.service.helpers import Account

HOST_HEADER = "dashboard.test"  # the Host (and requestContext.domainName) of these requests
ORIGIN = f"https://{HOST_HEADER}"
CODE_RE = re.compile(r"sign-in code is (\d{6})")
LINK_RE = re.compile(r"(\S+/dashboard/login/confirm\?token=(\S+))")


def set_cookies(response: Response) -> dict[str, str]:
    """name → the whole Set-Cookie line (our cookies hold no commas; the harness joins lines with ", ")."""
    raw = response.headers.get("set-cookie", "")
    found: dict[str, str] = {}
    for line in re.split(r", (?=__Host-)", raw) if raw else []:
        found[line.split("=", 1)[0]] = line
    return found


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match, "no csrf_token on the page"
    return unescape(match.group(1))


@dataclass
class Browser:
    api: ServiceApi
    moto_url: str
    source_ip: str = field(default_factory=next_source_ip)
    cookies: dict[str, str] = field(default_factory=dict)
    user_agent: str = "ServiceTestBrowser/1.0"

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, Any] | list[tuple[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
        cross_site: bool = False,
    ) -> Response:
        path, _, query = path.partition("?")
        sent = {"Host": HOST_HEADER, "User-Agent": self.user_agent}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if method == "POST":
            sent["Origin"] = "https://evil.example" if cross_site else ORIGIN
            sent["Sec-Fetch-Site"] = "cross-site" if cross_site else "same-origin"
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(form or {}, doseq=True).encode()
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v}  # "" drops a header a browser would send
        query_map = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        response = self.api.call(
            method,
            path,
            body=body,
            headers=sent,
            query={k: unquote(v) for k, v in query_map.items()},
            source_ip=self.source_ip,
        )
        for name, line in set_cookies(response).items():
            value = line.split(";", 1)[0].split("=", 1)[1]
            if "Max-Age=0" in line or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(
        self, path: str, form: dict[str, Any] | None = None, *, token_from: str | None = None, **kwargs: Any
    ) -> Response:
        """POST a form with the CSRF token of the page at ``token_from`` (default: the same path)."""
        page = self.get(token_from or path)
        fields = {"csrf_token": csrf_token(page.body.decode()), **(form or {})}
        return self.request("POST", path, fields, **kwargs)

    # -------------------------------------------------------------- sign-in

    def ask_for_code(self, email: str) -> Response:
        return self.post("/dashboard/login", {"email": email})

    def sign_in(self, email: str | None = None) -> str:
        """The whole flow: ask, read the mail, type the code; the address signed in."""
        address = email or f"dash-{uuid.uuid4().hex}@example.com"
        seen = {m.id for m in messages(self.moto_url)}
        sent = self.ask_for_code(address)
        assert sent.status == 200, sent
        code, _ = latest_mail(self.moto_url, address, seen)
        done = self.request(
            "POST",
            "/dashboard/login/code",
            {"email": address, "code": code, "csrf_token": csrf_token(sent.body.decode())},
        )
        assert done.status == 303, done
        assert "__Host-fg_session" in self.cookies
        return address


def latest_mail(moto_url: str, address: str, seen: set[str] | None = None) -> tuple[str, str]:
    """The newest sign-in mail to ``address`` not in ``seen``: (code, link token)."""
    mails = [m for m in messages(moto_url) if address in m.to and m.id not in (seen or set())]
    assert mails, f"no new mail to {address}"
    body = mails[-1].body
    code = CODE_RE.search(body)
    link = LINK_RE.search(body)
    assert code and link, body
    return code.group(1), link.group(2)


def mails_to(moto_url: str, address: str) -> int:
    return sum(address in m.to for m in messages(moto_url))


def location(response: Response) -> str:
    return urlsplit(response.headers.get("location", "")).path


# ------------------------------------------------------------------ what the dashboard tests share

NEW_KEY = re.compile(r'<code id="new-key">(fg_(?:live|test)_[a-z2-7]{39})</code>')


def session_account_id(browser: Browser) -> str:
    """The account the browser's session cookie is signed in to."""
    from filegate.dashboard.sessions import token_hash
    from filegate.db import sessions

    record = sessions.get(token_hash(browser.cookies["__Host-fg_session"]))
    assert record is not None
    return record.account_id


def api_account(api: ServiceApi, browser: Browser, raw_key: str) -> Account:
    """The account as an API client holding ``raw_key``."""
    return Account(session_account_id(browser), raw_key, "", browser.source_ip, api)


def create_key_on_page(browser: Browser, **form: Any) -> tuple[Response, str]:
    """A key made with the keys page's form: the page and the raw key it shows once."""
    fields = {"name": "from-the-dashboard", "scopes": ["convert:write", "files:read", "keys:manage"], **form}
    response = browser.post("/dashboard/keys", fields)
    assert response.status == 200, response
    match = NEW_KEY.search(response.body.decode())
    assert match, "the new key is not on the page"
    return response, match.group(1)


def assert_security_headers(response: Response) -> None:
    """What every dashboard response carries, whatever answered it (docs/api.md §7)."""
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, csp
    assert "unsafe-eval" not in csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("cache-control") == "no-store"
