"""The FileGate client: one typed method per endpoint, and `convert` that picks the right path by size.

Configuration comes from arguments or the environment (FILEGATE_API_KEY, FILEGATE_BASE_URL). There is no
silent default base URL: `FileGate.local()` (or the CLI's `--local`) says so explicitly.
"""

from __future__ import annotations

import mimetypes
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from filegate_client._upload import MultipartUpload, Progress
from filegate_client.errors import (
    APIError,
    ConfigurationError,
    ConversionFailedError,
    ImportFailedError,
    NotFoundError,
    RateLimitError,
    TransportError,
    error_from_response,
)
from filegate_client.types import (
    Conversion,
    Entitlements,
    File,
    FreeKey,
    Key,
    KeyActivity,
    NewFile,
    NewKey,
    Page,
    Usage,
    Webhook,
)

ENV_API_KEY = "FILEGATE_API_KEY"
ENV_BASE_URL = "FILEGATE_BASE_URL"
SYNC_MAX_BYTES = 4 * 1024 * 1024  # docs/api.md: /v1/convert takes up to 4 MB in
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# A Retry-After longer than this (a monthly quota) is not waited for: the error is raised.
MAX_RETRY_AFTER_SECONDS = 120.0
POLL_FIRST_SECONDS = 0.2
POLL_MAX_SECONDS = 3.0
POLL_BACKOFF = 1.3  # gentle: most jobs finish within seconds, and a late poll costs the whole wait

Source = str | os.PathLike[str] | bytes
# (stage, done, total or None): stage is "upload" or "download" (bytes), or "convert" (the job's `progress`,
# a percent of PROGRESS_TOTAL).
PROGRESS_TOTAL = 100
ProgressCallback = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class ConvertResult:
    """A finished conversion: the bytes (``content``) or where they were written (``path``)."""

    conversion_id: str | None
    content_type: str | None
    filename: str | None
    size: int
    mode: str  # "sync" (one request), "sync-redirect" (303), "async" (files + jobs, or a 202)
    content: bytes | None = None
    path: Path | None = None


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FileGate:
    """A client for one FileGate API. Thread-safe: share one between threads."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        sync_max_bytes: int = SYNC_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "filegate-python/0.1",
    ) -> None:
        self.api_key = api_key or os.environ.get(ENV_API_KEY) or None
        url = base_url or os.environ.get(ENV_BASE_URL)
        if not url:
            raise ConfigurationError(
                f"No base URL: pass base_url, set {ENV_BASE_URL}, or use FileGate.local() for the local stack.",
                missing="base_url",
            )
        self.base_url = url.rstrip("/")
        self.max_retries = max_retries
        self.sync_max_bytes = sync_max_bytes
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"User-Agent": user_agent},
        )
        # Presigned S3 URLs: another origin, and they must never receive the API key.
        self._storage = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), transport=transport)

    @classmethod
    def local(cls, api_key: str | None = None, port: int = 3000, **kwargs: Any) -> FileGate:
        """A client for the local stack (`make dev`)."""
        return cls(api_key, f"http://127.0.0.1:{port}", **kwargs)

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> FileGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        retry_server_errors: bool | None = None,
    ) -> httpx.Response:
        """One API call with retries; an error answer raises its typed APIError.

        429 is always retried (the request was refused, nothing happened) when Retry-After is short;
        5xx and network errors only for idempotent calls (GET/DELETE, or one carrying an Idempotency-Key).
        """
        all_headers = dict(headers or {})
        if auth:
            if not self.api_key:
                raise ConfigurationError(f"No API key: pass api_key or set {ENV_API_KEY}.", missing="api_key")
            all_headers["Authorization"] = f"Bearer {self.api_key}"
        if retry_server_errors is None:
            retry_server_errors = method.upper() in IDEMPOTENT_METHODS or "Idempotency-Key" in all_headers
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, params=clean_params, data=data, files=files, headers=all_headers
                )
            except httpx.TransportError as exc:
                if retry_server_errors and attempt < self.max_retries:
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise TransportError(f"{method} {path}: {exc}") from exc
            if response.status_code < 400:
                return response
            error = error_from_response(response.status_code, _json_or_none(response), response.headers)
            if attempt < self.max_retries and self._should_retry(error, retry_server_errors):
                wait = error.retry_after if isinstance(error, RateLimitError) else None
                self._sleep(wait if wait is not None else self._backoff(attempt))
                attempt += 1
                continue
            raise error

    @staticmethod
    def _should_retry(error: APIError, retry_server_errors: bool) -> bool:
        if isinstance(error, RateLimitError):
            wait = error.retry_after
            return wait is None or wait <= MAX_RETRY_AFTER_SECONDS
        return error.status >= 500 and retry_server_errors

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(0.5 * 2**attempt, 8.0))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def _pages(self, path: str, limit: int, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            page = self._json("GET", path, params={**(params or {}), "limit": limit, "cursor": cursor})
            yield from page.get("data", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # ------------------------------------------------------------------ public (no key)

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/v1/health", auth=False)  # type: ignore[no-any-return]

    def formats(self) -> dict[str, Any]:
        return self._json("GET", "/v1/formats", auth=False)  # type: ignore[no-any-return]

    def openapi(self) -> dict[str, Any]:
        return self._json("GET", "/v1/openapi.json", auth=False)  # type: ignore[no-any-return]

    def create_free_key(self, email: str) -> FreeKey:
        return self._json("POST", "/v1/keys/free", json={"email": email}, auth=False)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ keys and account

    def list_keys(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        return self._json("GET", "/v1/keys", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_keys(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/keys", page_size)

    def create_key(
        self,
        name: str,
        *,
        scopes: list[str] | None = None,
        allowed_ips: list[str] | None = None,
        expires_at: str | None = None,
        mode: str | None = None,
    ) -> NewKey:
        body = {"name": name, "scopes": scopes, "allowed_ips": allowed_ips, "expires_at": expires_at, "mode": mode}
        return self._json("POST", "/v1/keys", json=_compact(body))  # type: ignore[no-any-return]

    def update_key(
        self,
        key_id: str,
        *,
        name: str | None = None,
        scopes: list[str] | None = None,
        allowed_ips: list[str] | None = None,
    ) -> Key:
        body = _compact({"name": name, "scopes": scopes, "allowed_ips": allowed_ips})
        return self._json("PATCH", f"/v1/keys/{_seg(key_id)}", json=body)  # type: ignore[no-any-return]

    def revoke_key(self, key_id: str) -> None:
        self.request("DELETE", f"/v1/keys/{_seg(key_id)}")

    def rotate_key(self, key_id: str | None = None, *, grace_seconds: int = 0) -> NewKey:
        """Rotate ``key_id``, or the calling key when None. The new raw key is in ``api_key``."""
        path = "/v1/keys/rotate" if key_id is None else f"/v1/keys/{_seg(key_id)}/rotate"
        return self._json("POST", path, json={"grace_seconds": grace_seconds})  # type: ignore[no-any-return]

    def key_activity(
        self,
        key_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        granularity: str | None = None,
    ) -> KeyActivity:
        """A key's requests by outcome, conversions and units per hour or day (needs ``keys:manage``);
        by default the last 24 hours by hour; at most 90 days."""
        params = {"from": _iso(start), "to": _iso(end), "granularity": granularity}
        return self._json("GET", f"/v1/keys/{_seg(key_id)}/activity", params=params)  # type: ignore[no-any-return]

    def entitlements(self) -> Entitlements:
        return self._json("GET", "/v1/entitlements/me")  # type: ignore[no-any-return]

    def usage(self, *, from_month: str | None = None, to_month: str | None = None) -> Usage:
        return self._json("GET", "/v1/usage", params={"from": from_month, "to": to_month})  # type: ignore[no-any-return]

    def audit(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        """One page of the account's audit log, newest first (needs ``keys:manage``)."""
        return self._json("GET", "/v1/audit", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_audit(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/audit", page_size)

    # ------------------------------------------------------------------ files

    def create_file(self, filename: str, size: int, content_type: str | None = None) -> NewFile:
        body = _compact({"filename": filename, "size": size, "content_type": content_type})
        return self._json("POST", "/v1/files", json=body)  # type: ignore[no-any-return]

    def upload_to(
        self,
        upload: Mapping[str, Any],
        source: Path | bytes,
        filename: str,
        content_type: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        """POST the bytes to a presigned upload (``upload`` is the ``upload`` object of create_file)."""
        body = MultipartUpload(upload["fields"], source, filename, content_type)
        headers = {"Content-Type": body.content_type, "Content-Length": str(body.content_length)}
        try:
            response = self._storage.post(upload["url"], content=body.stream(progress), headers=headers)
        except httpx.TransportError as exc:
            raise TransportError(f"upload: {exc}") from exc
        if response.status_code >= 300:
            raise APIError(response.status_code, "upload_failed", response.text[:500], "", response.headers)

    def complete_file(self, file_id: str) -> File:
        return self._json("POST", f"/v1/files/{_seg(file_id)}/complete")  # type: ignore[no-any-return]

    def upload_file(self, source: Source, *, filename: str | None = None, progress: Progress | None = None) -> File:
        """create + presigned POST + complete: the ready file's JSON (with its ``metadata``)."""
        data, name = _load(source, filename)
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        content_type = mimetypes.guess_type(name)[0]
        created = self.create_file(name, size, content_type)
        self.upload_to(created["upload"], data, name, content_type, progress)
        return self.complete_file(created["id"])

    def import_url(self, url: str, *, filename: str | None = None, headers: Mapping[str, str] | None = None) -> File:
        """POST /v1/files/import: the file (``importing``); a worker fetches it. ``headers`` (e.g.
        ``Authorization`` for a private link) go to the URL's own origin only. See ``wait_for_file``."""
        body = _compact({"url": url, "filename": filename, "headers": dict(headers) if headers else None})
        return self._json("POST", "/v1/files/import", json=body)  # type: ignore[no-any-return]

    def wait_for_file(self, file_id: str, *, timeout: float = 900.0) -> File:
        """Poll with backoff until an importing file is ready (its JSON) or failed (ImportFailedError)."""
        deadline = time.monotonic() + timeout
        delay = POLL_FIRST_SECONDS
        while True:
            file = self.get_file(file_id)
            if file.get("status") == "ready":
                return file
            if file.get("status") == "failed":
                raise ImportFailedError(file)
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"file {file_id} still {file.get('status')} after {timeout:.0f} s")
            self._sleep(delay)
            delay = min(delay * POLL_BACKOFF, POLL_MAX_SECONDS)

    def get_file(self, file_id: str) -> File:
        return self._json("GET", f"/v1/files/{_seg(file_id)}")  # type: ignore[no-any-return]

    def list_files(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        return self._json("GET", "/v1/files", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_files(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/files", page_size)

    def file_content_url(self, file_id: str) -> str:
        """The short-lived presigned download URL (the 302's Location)."""
        response = self.request("GET", f"/v1/files/{_seg(file_id)}/content")
        return response.headers["location"]

    def download_file(
        self,
        file_id: str,
        output: str | os.PathLike[str] | None = None,
        *,
        progress: Progress | None = None,
        to: str | os.PathLike[str] | None = None,
    ) -> bytes | Path:
        """The file's bytes, or the path written when ``output`` is given (``to`` is its deprecated name)."""
        return self.download_url(self.file_content_url(file_id), _output(output, to), progress=progress)

    def delete_file(self, file_id: str) -> None:
        self.request("DELETE", f"/v1/files/{_seg(file_id)}")

    def download_url(
        self,
        url: str,
        output: str | os.PathLike[str] | None = None,
        *,
        progress: Progress | None = None,
        to: str | os.PathLike[str] | None = None,
    ) -> bytes | Path:
        """Fetch a presigned URL (never sends the API key); bytes, or the path written to ``output`` (``to``
        is its deprecated name)."""
        chunks: list[bytes] = []
        output = _output(output, to)
        target = Path(output) if output is not None else None
        try:
            with self._storage.stream("GET", url) as response:
                if response.status_code >= 300:
                    response.read()
                    raise APIError(response.status_code, "download_failed", response.text[:500], "", response.headers)
                handle = target.open("wb") if target is not None else None
                try:
                    for chunk in response.iter_bytes():
                        if handle is not None:
                            handle.write(chunk)
                        else:
                            chunks.append(chunk)
                        if progress is not None:
                            progress(len(chunk))
                finally:
                    if handle is not None:
                        handle.close()
        except httpx.TransportError as exc:
            raise TransportError(f"download: {exc}") from exc
        return target if target is not None else b"".join(chunks)

    # ------------------------------------------------------------------ conversions

    def create_conversion(
        self,
        file_id: str | None,
        target: str,
        *,
        options: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        file_ids: Sequence[str] | None = None,
    ) -> Conversion:
        """A job (202). An Idempotency-Key is always sent (one is made when not given), so retries are safe.
        ``url`` (and ``headers``) in place of ``file_id``: one job that imports the URL, then converts it;
        ``file_ids`` (2-100, target ``pdf``) in place of ``file_id``: one PDF of those files, in order."""
        body = _compact(
            {
                "file_id": file_id,
                "file_ids": list(file_ids) if file_ids is not None else None,
                "url": url,
                "headers": dict(headers) if headers else None,
                "target": target,
                "options": dict(options or {}) or None,
                "webhook_url": webhook_url,
            }
        )
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._json("POST", "/v1/conversions", json=body, headers=headers)  # type: ignore[no-any-return]

    def create_conversions_bulk(
        self, items: list[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._json(  # type: ignore[no-any-return]
            "POST", "/v1/conversions/bulk", json={"items": [dict(i) for i in items]}, headers=headers
        )

    def get_conversion(self, conversion_id: str) -> Conversion:
        return self._json("GET", f"/v1/conversions/{_seg(conversion_id)}")  # type: ignore[no-any-return]

    def list_conversions(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        return self._json(  # type: ignore[no-any-return]
            "GET", "/v1/conversions", params={"limit": limit, "cursor": cursor}
        )

    def iter_conversions(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/conversions", page_size)

    def wait_for_conversion(
        self,
        conversion_id: str,
        *,
        timeout: float = 1800.0,
        on_status: Callable[[Conversion], None] | None = None,
    ) -> Conversion:
        """Poll with backoff until the job succeeds (its JSON) or fails (ConversionFailedError)."""
        deadline = time.monotonic() + timeout
        delay = POLL_FIRST_SECONDS
        while True:
            job = self.get_conversion(conversion_id)
            if on_status is not None:
                on_status(job)
            if job.get("status") == "succeeded":
                return job
            if job.get("status") == "failed":
                raise ConversionFailedError(job)
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"conversion {conversion_id} still {job.get('status')} after {timeout:.0f} s")
            self._sleep(delay)
            delay = min(delay * POLL_BACKOFF, POLL_MAX_SECONDS)

    # ------------------------------------------------------------------ webhooks (pro)

    def get_webhook_secret(self) -> dict[str, Any] | None:
        """The current signing secret (``{"secret", "created_at", ...}``; audited), or None when there is none
        yet. Never rotates it: a listener uses the secret the account's receivers already verify with."""
        try:
            return self._json("GET", "/v1/webhooks/secret")  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def create_webhook_secret(self) -> dict[str, Any]:
        """Create or rotate the signing secret (``whsec_…``, shown once; both sign for 24 h after a rotation)."""
        return self._json("POST", "/v1/webhooks/secret")  # type: ignore[no-any-return]

    def create_webhook(self, url: str, *, events: list[str] | None = None) -> Webhook:
        body = _compact({"url": url, "events": events})
        return self._json("POST", "/v1/webhooks", json=body)  # type: ignore[no-any-return]

    def list_webhooks(self) -> Page:
        return self._json("GET", "/v1/webhooks")  # type: ignore[no-any-return]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")

    def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Send a ``webhook.test`` event to the endpoint; the delivery (202)."""
        return self._json("POST", f"/v1/webhooks/{_seg(webhook_id)}/test")  # type: ignore[no-any-return]

    def list_webhook_deliveries(self, webhook_id: str, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        return self._json(  # type: ignore[no-any-return]
            "GET", f"/v1/webhooks/{_seg(webhook_id)}/deliveries", params={"limit": limit, "cursor": cursor}
        )

    # ------------------------------------------------------------------ sync convert and compress

    def convert_sync(
        self, data: bytes, target: str | None, *, filename: str = "upload", **options: Any
    ) -> httpx.Response:
        """POST /v1/convert (or /v1/compress when target is None): the raw 200, 303 or 202 answer."""
        path = "/v1/compress" if target is None else "/v1/convert"
        fields = {k: _form_value(v) for k, v in options.items() if v is not None}
        if target is not None:
            fields["target"] = target
        return self.request(
            "POST",
            path,
            data=fields,
            files={"file": (filename, data, _content_type(filename))},
            retry_server_errors=False,
        )

    def convert(
        self,
        source: Source,
        target: str,
        *,
        output: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        webhook_url: str | None = None,
        timeout: float = 1800.0,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> ConvertResult:
        """Convert a file (path, bytes, or an ``https://`` URL) to ``target``; the bytes, or written to ``output``.

        Inputs up to the sync limit go through POST /v1/convert; larger ones are uploaded with the presigned
        POST and converted as a job. 303 and 202 answers are followed transparently. A URL is not downloaded
        here: the API imports it and converts it as one job (``headers`` for a private link).
        """
        if is_url(source):
            report = progress or (lambda stage, done, total: None)
            job = self.create_conversion(
                None, target, options=options, webhook_url=webhook_url, url=str(source), headers=headers
            )
            return self._finish_job(job["id"], output, report, timeout)
        return self._run(source, target, output, filename, progress, webhook_url, timeout, options)

    def compress(
        self,
        source: Source,
        *,
        quality: int | None = None,
        output: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        timeout: float = 1800.0,
        **options: Any,
    ) -> ConvertResult:
        """Same format, smaller bytes. A large input becomes a job whose target is its own format. A PDF also
        takes ``dpi`` (images downsampled to it, default 150), ``password`` and ``input_password``."""
        given = {"quality": quality, **options}
        return self._run(source, None, output, filename, progress, None, timeout, _compact(given))

    def merge(
        self,
        sources: Sequence[Source],
        *,
        output: str | os.PathLike[str] | None = None,
        progress: ProgressCallback | None = None,
        timeout: float = 1800.0,
        **options: Any,
    ) -> ConvertResult:
        """One PDF of every input, in order (PDFs, images; docs/pdf-tools.md "Merge"): ``page_size``
        (``a4``, ``letter``) fits images to a page, ``password`` encrypts the result. Inputs that fit the sync
        limit together go in one POST /v1/convert; larger ones are uploaded and merged by a job."""
        loaded = [_load(source, None) for source in sources]
        sizes = [data.stat().st_size if isinstance(data, Path) else len(data) for data, _ in loaded]
        report = progress or (lambda stage, done, total: None)
        fields = {k: _form_value(v) for k, v in options.items() if v is not None}
        if sum(sizes) <= self.sync_max_bytes:
            files = [
                ("file", (name, data.read_bytes() if isinstance(data, Path) else data, _content_type(name)))
                for data, name in loaded
            ]
            report("upload", 0, sum(sizes))
            response = self.request(
                "POST", "/v1/convert", data={**fields, "target": "pdf"}, files=files, retry_server_errors=False
            )
            report("upload", sum(sizes), sum(sizes))
            if response.status_code == 200:
                return self._sync_result(response, output, report)
            if response.status_code == 303:
                return self._redirect_result(response, output, report)
            if response.status_code == 202:
                return self._finish_job(response.json()["id"], output, report, timeout)
            raise APIError(response.status_code, "unexpected_status", response.text[:200], "", response.headers)
        ready = [self.upload_file(data, filename=name)["id"] for data, name in loaded]
        job = self.create_conversion(
            None, "pdf", options={k: v for k, v in options.items() if v is not None}, file_ids=ready
        )
        return self._finish_job(job["id"], output, report, timeout)

    def _run(
        self,
        source: Source,
        target: str | None,
        output: str | os.PathLike[str] | None,
        filename: str | None,
        progress: ProgressCallback | None,
        webhook_url: str | None,
        timeout: float,
        options: Mapping[str, Any],
    ) -> ConvertResult:
        data, name = _load(source, filename)
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        report = progress or (lambda stage, done, total: None)
        if size <= self.sync_max_bytes and webhook_url is None:
            raw = data.read_bytes() if isinstance(data, Path) else data
            report("upload", 0, size)
            response = self.convert_sync(raw, target, filename=name, **options)
            report("upload", size, size)
            if response.status_code == 200:
                return self._sync_result(response, output, report)
            if response.status_code == 303:
                return self._redirect_result(response, output, report)
            if response.status_code == 202:
                job = response.json()
                return self._finish_job(job["id"], output, report, timeout)
            raise APIError(response.status_code, "unexpected_status", response.text[:200], "", response.headers)
        done = 0

        def uploaded(n: int) -> None:
            nonlocal done
            done += n
            report("upload", done, size)

        ready = self.upload_file(data, filename=name, progress=uploaded)
        job_target = target or self._sniffed_format(ready)
        job = self.create_conversion(ready["id"], job_target, options=options, webhook_url=webhook_url)
        return self._finish_job(job["id"], output, report, timeout)

    @staticmethod
    def _sniffed_format(ready: Mapping[str, Any]) -> str:
        """A ready file's format as the API recognised it from its bytes (compress keeps the format)."""
        found = (ready.get("metadata") or {}).get("format") or ready.get("format")
        if not found:
            raise APIError(422, "unsupported_media_type", "The API did not recognise the file's format.", "")
        return str(found)

    def _sync_result(
        self, response: httpx.Response, output: str | os.PathLike[str] | None, report: ProgressCallback
    ) -> ConvertResult:
        content = response.content
        report("download", len(content), len(content))
        path = _write(output, content)
        return ConvertResult(
            conversion_id=response.headers.get("x-conversion-id"),
            content_type=response.headers.get("content-type"),
            filename=_disposition_filename(response.headers.get("content-disposition")),
            size=len(content),
            mode="sync",
            content=None if path else content,
            path=path,
        )

    def _redirect_result(
        self, response: httpx.Response, output: str | os.PathLike[str] | None, report: ProgressCallback
    ) -> ConvertResult:
        return self._download_result(
            response.headers["location"], response.headers.get("x-conversion-id"), output, report, "sync-redirect"
        )

    def _finish_job(
        self, conversion_id: str, output: str | os.PathLike[str] | None, report: ProgressCallback, timeout: float
    ) -> ConvertResult:
        report("convert", 0, PROGRESS_TOTAL)
        job = self.wait_for_conversion(
            conversion_id,
            timeout=timeout,
            on_status=lambda seen: report("convert", seen.get("progress") or 0, PROGRESS_TOTAL),
        )
        report("convert", PROGRESS_TOTAL, PROGRESS_TOTAL)
        output_file_id = job.get("output_file_id")
        if not output_file_id:
            raise APIError(500, "internal_error", f"conversion {conversion_id} succeeded without an output file", "")
        url = self.file_content_url(output_file_id)
        return self._download_result(url, conversion_id, output, report, "async")

    def _download_result(
        self,
        url: str,
        conversion_id: str | None,
        output: str | os.PathLike[str] | None,
        report: ProgressCallback,
        mode: str,
    ) -> ConvertResult:
        got = 0

        def downloaded(n: int) -> None:
            nonlocal got
            got += n
            report("download", got, None)

        result = self.download_url(url, output, progress=downloaded)
        path = result if isinstance(result, Path) else None
        content = result if isinstance(result, bytes) else None
        return ConvertResult(
            conversion_id=conversion_id,
            content_type=None,
            filename=None,
            size=got,
            mode=mode,
            content=content,
            path=path,
        )


def _output(output: str | os.PathLike[str] | None, to: str | os.PathLike[str] | None) -> str | os.PathLike[str] | None:
    """One keyword for output paths across the SDK (``output=``, as ``convert`` takes it); ``to=`` still
    works, with a DeprecationWarning."""
    if to is None:
        return output
    if output is not None:
        raise TypeError("pass output= only (to= is its deprecated name)")
    warnings.warn("to= is deprecated; pass output= (as convert does)", DeprecationWarning, stacklevel=3)
    return to


def is_url(source: object) -> bool:
    """Whether a convert source names a URL for the API to import (``https://``, or ``http://`` locally)."""
    return isinstance(source, str) and source.lower().startswith(("https://", "http://"))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _iso(value: datetime | str | None) -> str | None:
    """A time for a query: a datetime as ISO-8601 (naive ones taken as UTC), a string as given."""
    if value is None or isinstance(value, str):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _seg(value: str) -> str:
    """An id as one path segment (never lets an id walk to another route)."""
    return quote(value, safe="")


def _load(source: Source, filename: str | None) -> tuple[Path | bytes, str]:
    if isinstance(source, bytes):
        return source, filename or "upload"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path, filename or path.name


def _write(output: str | os.PathLike[str] | None, content: bytes) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    path.write_bytes(content)
    return path


def _disposition_filename(value: str | None) -> str | None:
    if not value or "filename=" not in value:
        return None
    return value.split("filename=", 1)[1].strip().strip('"')
