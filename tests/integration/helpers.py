"""Helpers for integration tests: accounts made through the admin tool, clients bound to a source IP, the
processes and ports of a stack started as a subprocess.

The whole 127.0.0.0/8 range is loopback on Linux, so a client bound to 127.0.0.5 reaches the local
gateway as a different source IP: real IP allowlist and per-IP limit checks, no header tricks.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import requests
from requests.adapters import HTTPAdapter

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


# --------------------------------------------------------------------------------------------- processes


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def all_gone_within(pids: list[int], ports: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(process_gone(pid) for pid in pids) and not any(listening(port) for port in ports):
            return True
        time.sleep(0.1)
    return False


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
