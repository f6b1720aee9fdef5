"""Conversion jobs (docs/api.md "Conversion"): created (always with an Idempotency-Key), listed, waited for."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from filegate_client._transport import Transport
from filegate_client._values import compact, seg
from filegate_client.errors import ConversionFailedError
from filegate_client.types import Conversion, Page


class Conversions(Transport):
    """The conversion job methods of FileGate."""

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
        body = compact(
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
        return self._json("GET", f"/v1/conversions/{seg(conversion_id)}")  # type: ignore[no-any-return]

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

        def read() -> Conversion:
            job = self.get_conversion(conversion_id)
            if on_status is not None:
                on_status(job)
            return job

        return self._poll(
            read, ready="succeeded", failure=ConversionFailedError, name=f"conversion {conversion_id}", timeout=timeout
        )
