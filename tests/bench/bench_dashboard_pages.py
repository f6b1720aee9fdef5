"""Each dashboard page's server time on the local stack: p50 and p95 over N loads (default 100) by one
signed-in browser-like client, after a few warm-up loads. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_dashboard_pages.py [--loads 100]

The time is httpx's ``elapsed`` (request sent → response headers parsed) over loopback keep-alive: the
local gateway's routing and event building, the dashboard function in a warm worker (session lookup,
account read, the page's service calls against moto), and the page's rendering. The account has a few keys,
conversions and audit entries, as after a first session.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from filegate_local.mailbox import messages  # noqa: E402
from tests.helpers.local_stack import start_local_stack  # noqa: E402

PAGES = (
    "/dashboard/login",
    "/dashboard",
    "/dashboard/keys",
    "/dashboard/usage",
    "/dashboard/usage.csv",
    "/dashboard/conversions",
    "/dashboard/webhooks",
    "/dashboard/audit",
    "/dashboard/sessions",
)
WARM_UP = 5


class Browser:
    """httpx with a cookie jar of its own: Python's jar sends no Secure cookie over http, while browsers
    treat 127.0.0.1 as secure (docs/api.md §7), so the __Host- cookies are kept and sent here."""

    def __init__(self, client: httpx.Client) -> None:
        self.client, self.cookies = client, {}

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {**dict(kwargs.pop("headers", None) or {}), **({"Cookie": cookie} if cookie else {})}  # type: ignore[call-overload]
        response = self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Max-Age=0" not in line:
                self.cookies[name] = value
        return response

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no form token"
    return match.group(1)


def _sign_in(client: Browser, moto_url: str) -> None:
    address = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    page = client.get("/dashboard/login")
    sent = client.post("/dashboard/login", data={"email": address, "csrf_token": _token(page.text)})
    deadline = time.monotonic() + 30
    code = None
    while code is None and time.monotonic() < deadline:
        for mail in messages(moto_url):
            if address in mail.to and (found := re.search(r"code is (\d{6})", mail.body)):
                code = found.group(1)
        time.sleep(0.1)
    assert code, "no sign-in mail"
    done = client.post("/dashboard/login/code", data={"email": address, "code": code, "csrf_token": _token(sent.text)})
    assert done.status_code == 303, done.text


def _some_data(client: Browser) -> str:
    """A few keys and conversions; the path of the first key's own page (its activity)."""
    created = client.post(
        "/dashboard/keys", data={"name": "bench", "csrf_token": _token(client.get("/dashboard/keys").text)}
    )
    raw = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
    assert raw, "no key"
    image = io.BytesIO()
    Image.radial_gradient("L").resize((32, 32)).save(image, "PNG")
    for _ in range(3):
        client.post(
            "/v1/convert",
            headers={"Authorization": f"Bearer {raw.group(1)}"},
            files={"file": ("g.png", image.getvalue())},
            data={"target": "webp"},
        )
    for n in range(3):
        client.post("/dashboard/keys", data={"name": f"k{n}", "csrf_token": _token(client.get("/dashboard/keys").text)})
    link = re.search(r'href="(/dashboard/keys/key_[a-z0-9]+)">bench<', client.get("/dashboard/keys").text)
    assert link, "no link to the key's page"
    return link.group(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        stack = start_local_stack(ROOT / "template.yaml", Path(state_dir), workers_per_function=1)
        try:
            headers = {"Origin": stack.url, "Sec-Fetch-Site": "same-origin"}
            with httpx.Client(base_url=stack.url, timeout=60, headers=headers) as http:
                client = Browser(http)
                _sign_in(client, stack.moto_url)
                key_page = _some_data(client)
                print(f"dashboard pages, {args.loads} loads each after {WARM_UP} warm-up (ms):")
                print(f"  {'page':<30} {'p50':>7} {'p95':>7} {'max':>7}")
                for path in (*PAGES, key_page, f"{key_page}?range=30d"):
                    for _ in range(WARM_UP):
                        client.get(path)
                    times = []
                    for _ in range(args.loads):
                        response = client.get(path)
                        assert response.status_code == 200, (path, response.status_code)
                        times.append(response.elapsed.total_seconds() * 1000)
                    times.sort()
                    p95 = times[max(0, round(0.95 * len(times)) - 1)]
                    shown = re.sub(r"key_[a-z0-9]+", "{id}", path)
                    print(f"  {shown:<30} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
