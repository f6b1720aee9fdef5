"""The client's HTTP side: the API and storage connections, one call with retries, pages."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from filegate_client.errors import APIError, ConfigurationError, RateLimitError, TransportError, error_from_response

ENV_API_KEY = "FILEGATE_API_KEY"
ENV_BASE_URL = "FILEGATE_BASE_URL"
SYNC_MAX_BYTES = 4 * 1024 * 1024  # docs/api.md: /v1/convert takes up to 4 MB in
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# A Retry-After longer than this (a monthly quota) is not waited for: the error is raised.
MAX_RETRY_AFTER_SECONDS = 120.0
POLL_FIRST_SECONDS = 0.2
POLL_MAX_SECONDS = 3.0
POLL_BACKOFF = 1.3  # gentle: most jobs finish within seconds, and a late poll costs the whole wait

# What a wait polls: a file or a conversion, by its status.
Polled = TypeVar("Polled", bound=Mapping[str, object])


class Transport:
    """What every resource calls through (filegate_client.client.FileGate is made of them)."""

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

    def close(self) -> None:
        self._http.close()
        self._storage.close()

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
            error = error_from_response(response.status_code, json_or_none(response), response.headers)
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

    def _poll(
        self,
        read: Callable[[], Polled],
        *,
        ready: str,
        failure: Callable[[Polled], Exception],
        name: str,
        timeout: float,
    ) -> Polled:
        """Read with backoff until the status is ``ready`` (what was read) or ``failed`` (``failure`` of it is
        raised); TimeoutError naming ``name`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        delay = POLL_FIRST_SECONDS
        while True:
            seen = read()
            if seen.get("status") == ready:
                return seen
            if seen.get("status") == "failed":
                raise failure(seen)
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"{name} still {seen.get('status')} after {timeout:.0f} s")
            self._sleep(delay)
            delay = min(delay * POLL_BACKOFF, POLL_MAX_SECONDS)

    def _pages(self, path: str, limit: int, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            page = self._json("GET", path, params={**(params or {}), "limit": limit, "cursor": cursor})
            yield from page.get("data", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
