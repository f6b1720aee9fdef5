"""The API of a running local stack, as the integration tests, benches and smoke checks call it: accounts made
through the admin tool, clients bound to a source IP, uploads through presigned POSTs, the CLI in process.

The whole 127.0.0.0/8 range is loopback on Linux, so a client bound to 127.0.0.5 reaches the local
gateway as a different source IP: real IP allowlist and per-IP limit checks, no header tricks.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from filegate_client.cli import main as cli

TIMEOUT = 30


class _SourceAddressAdapter(HTTPAdapter):
    def __init__(self, source_ip: str) -> None:
        self._source = (source_ip, 0)
        super().__init__(pool_maxsize=64)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = self._source
        super().init_poolmanager(*args, **kwargs)


class Client:
    """A tiny HTTP client for the API: base URL, an optional key, a source IP."""

    def __init__(self, base_url: str, key: str | None = None, source_ip: str = "127.0.0.1") -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.session = requests.Session()
        adapter = _SourceAddressAdapter(source_ip)
        self.session.mount("http://", adapter)

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        all_headers.update(headers or {})
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.base_url + path, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def with_key(self, key: str, source_ip: str | None = None) -> Client:
        ip = source_ip or self.session.get_adapter("http://").__dict__["_source"][0]
        return Client(self.base_url, key, ip)


def admin(stack: Any, *args: str) -> dict[str, Any]:
    """Run filegate-admin --local against the test stack and return its JSON output."""
    from filegate_admin.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        main(["--local", "--state-dir", str(stack.state_dir), *args])
    return json.loads(out.getvalue())


def new_account(stack: Any, tier: str = "pro") -> dict[str, Any]:
    """A fresh account (pro by default, so tests are not slowed by the free tier's 10 requests/minute)."""
    return admin(stack, "create-account", f"test-{uuid.uuid4().hex[:12]}@example.com", "--tier", tier)


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["request_id"]
    return body


def wait_for_conversion(
    client: Client,
    conversion_id: str,
    timeout: float = 120,
    on_poll: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """The conversion once it has finished (succeeded or failed), polled through the API; `on_poll` sees
    each answer."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/conversions/{conversion_id}").json()
        if on_poll is not None:
            on_poll(body)
        if body["status"] in ("succeeded", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"conversion {conversion_id} still {body['status']} after {timeout} s")
        time.sleep(0.3)


def post_file(client: Client, data: bytes, filename: str, content_type: str | None = None) -> dict[str, Any]:
    """A file created (`POST /v1/files`) and its bytes sent to the presigned POST: the created file, not yet
    completed (a test that checks what `/complete` answers completes it itself)."""
    body: dict[str, Any] = {"filename": filename, "size": len(data)}
    if content_type is not None:
        body["content_type"] = content_type
    created = client.post("/v1/files", json=body)
    assert created.status_code == 201, created.text
    file: dict[str, Any] = created.json()
    upload = file["upload"]
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=TIMEOUT)
    assert posted.status_code in (200, 201, 204), posted.text
    return file


def upload(client: Client, data: bytes, filename: str, content_type: str | None = None) -> dict[str, Any]:
    """A file uploaded the whole way (created, posted, completed): what `/complete` answers (`id`, `metadata`…)."""
    file = post_file(client, data, filename, content_type)
    done = client.post(f"/v1/files/{file['id']}/complete")
    assert done.status_code == 200, done.text
    completed: dict[str, Any] = done.json()
    return completed


def conversions_used(client: Client) -> int:
    """This month's conversions of the client's account, as `GET /v1/entitlements/me` counts them."""
    return int(client.get("/v1/entitlements/me").json()["usage"]["conversions"])


def run_cli(*args: str) -> tuple[int, object]:
    """The `filegate` CLI run in this process with `--json`: its exit code and its parsed output (None if empty)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli([*args, "--json"])
    text = out.getvalue()
    return code, (json.loads(text) if text.strip() else None)


def keyed_session(stack: Any, tier: str = "pro") -> requests.Session:
    """A session sending a new account's key, the authorizer's answer for it already cached by one call."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {new_account(stack, tier)['api_key']}"
    session.get(stack.url + "/v1/entitlements/me", timeout=60)
    return session
