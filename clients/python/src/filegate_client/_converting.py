"""Converting in one call: `convert`, `compress` and `merge` pick the path by size (one POST /v1/convert, or
an upload and a job) and follow 303 and 202 answers to the bytes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from filegate_client._conversions import Conversions
from filegate_client._files import Files
from filegate_client._values import (
    Source,
    compact,
    content_type_of,
    disposition_filename,
    form_value,
    is_url,
    load,
    write,
)
from filegate_client.errors import APIError

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


class Converting(Files, Conversions):
    """The one-call conversions of FileGate, over its files and jobs."""

    def convert_sync(
        self, data: bytes, target: str | None, *, filename: str = "upload", **options: Any
    ) -> httpx.Response:
        """POST /v1/convert (or /v1/compress when target is None): the raw 200, 303 or 202 answer."""
        path = "/v1/compress" if target is None else "/v1/convert"
        fields = {k: form_value(v) for k, v in options.items() if v is not None}
        if target is not None:
            fields["target"] = target
        return self.request(
            "POST",
            path,
            data=fields,
            files={"file": (filename, data, content_type_of(filename))},
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
        return self._run(source, None, output, filename, progress, None, timeout, compact(given))

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
        loaded = [load(source, None) for source in sources]
        sizes = [data.stat().st_size if isinstance(data, Path) else len(data) for data, _ in loaded]
        report = progress or (lambda stage, done, total: None)
        fields = {k: form_value(v) for k, v in options.items() if v is not None}
        if sum(sizes) <= self.sync_max_bytes:
            files = [
                ("file", (name, data.read_bytes() if isinstance(data, Path) else data, content_type_of(name)))
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
        data, name = load(source, filename)
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
        path = write(output, content)
        return ConvertResult(
            conversion_id=response.headers.get("x-conversion-id"),
            content_type=response.headers.get("content-type"),
            filename=disposition_filename(response.headers.get("content-disposition")),
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
