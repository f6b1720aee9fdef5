"""The README's walk-through as a smoke test of a running stack: an account, keys, a conversion in one request
and one as a job, a signed webhook, a revoked key refused with 401, and everything it made removed.

It talks to the stack only over HTTP (and through ``filegate-admin`` for the account), so it runs the same
against a deployed stack and against the local stack (``tests/integration/test_smoke.py`` runs it there).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
JOB_TIMEOUT_SECONDS = 180.0  # a queued image conversion on a cold worker
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class SmokeSetupError(RuntimeError):
    """The smoke test was not told enough to run (ADMIN_ENV)."""


def admin_arguments(admin_env: str, state_dir: str = "") -> list[str]:
    """filegate-admin's global options for ADMIN_ENV: ``local`` (optionally its state dir) or a samconfig env."""
    if not admin_env:
        raise SmokeSetupError("ADMIN_ENV is not set: local, or the samconfig.toml environment (dev, prod)")
    if admin_env == "local":
        return ["--local", *(["--state-dir", state_dir] if state_dir else [])]
    return ["--env", admin_env]


def run_admin(arguments: list[str]) -> dict[str, Any]:
    """filegate-admin in this process; its JSON answer."""
    from filegate_admin.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        main(arguments)
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


def is_loopback(base_url: str) -> bool:
    return urlsplit(base_url).hostname in LOOPBACK_HOSTS


def sample_png() -> bytes:
    """A small gradient, made here (no binary fixture)."""
    from PIL import Image

    out = io.BytesIO()
    Image.radial_gradient("L").resize((96, 96)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Smoke:
    """One run: the account it made, the key it acts with, and what to remove at the end."""

    base_url: str
    admin: list[str]
    account_id: str
    api: httpx.Client
    files: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, base_url: str, admin: list[str]) -> Smoke:
        email = f"smoke-{uuid.uuid4().hex[:12]}@example.com"
        # pro: webhooks are a pro feature, and its rate limit leaves the walk-through unhurried.
        account = run_admin([*admin, "create-account", email, "--tier", "pro"])
        api = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {account['api_key']}"},
            timeout=HTTP_TIMEOUT,
        )
        return cls(base_url=base_url.rstrip("/"), admin=admin, account_id=account["account_id"], api=api)

    def with_key(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT)

    def create_key(self, name: str, scopes: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, **({"scopes": scopes} if scopes is not None else {})}
        response = self.api.post("/v1/keys", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def upload(self, data: bytes, filename: str, content_type: str) -> str:
        """A file through the presigned upload and its completion; its id."""
        created = self.api.post(
            "/v1/files", json={"filename": filename, "content_type": content_type, "size": len(data)}
        )
        assert created.status_code == 201, created.text
        file = created.json()
        self.files.append(file["id"])
        upload = file["upload"]
        posted = httpx.post(
            upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=HTTP_TIMEOUT
        )
        assert posted.status_code in (200, 201, 204), posted.text
        completed = self.api.post(f"/v1/files/{file['id']}/complete")
        assert completed.status_code == 200, completed.text
        assert completed.json()["status"] == "ready"
        return str(file["id"])

    def wait_for_conversion(self, conversion_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while True:
            body: dict[str, Any] = self.api.get(f"/v1/conversions/{conversion_id}").json()
            if body["status"] in ("succeeded", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"conversion {conversion_id} still {body['status']} after {JOB_TIMEOUT_SECONDS} s")
            time.sleep(1.0)

    def download(self, file_id: str) -> bytes:
        """The file's bytes through its short-lived download URL."""
        redirect = self.api.get(f"/v1/files/{file_id}/content")
        assert redirect.status_code == 302, redirect.text
        content = httpx.get(redirect.headers["Location"], timeout=HTTP_TIMEOUT)
        assert content.status_code == 200
        return content.content

    def clean_up(self) -> None:
        """Everything the run made goes: webhooks, files, then every key, and the account is suspended
        (accounts are never deleted; its address is a fresh smoke-…@example.com each run)."""
        try:
            for webhook_id in self.webhooks:
                self.api.delete(f"/v1/webhooks/{webhook_id}")
            for file_id in self.files:
                self.api.delete(f"/v1/files/{file_id}")
        finally:
            self.api.close()
            run_admin([*self.admin, "revoke-keys", self.account_id])
            run_admin([*self.admin, "set-status", self.account_id, "suspended"])
