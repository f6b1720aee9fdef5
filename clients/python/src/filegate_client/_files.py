"""Files: uploads (presigned POST), URL imports, downloads (presigned GET) (docs/api.md "Files")."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from filegate_client._transport import Transport
from filegate_client._upload import MultipartUpload, Progress
from filegate_client._values import Source, compact, load, output_of, seg
from filegate_client.errors import APIError, ImportFailedError, TransportError
from filegate_client.types import File, NewFile, Page


class Files(Transport):
    """The files methods of FileGate."""

    def create_file(self, filename: str, size: int, content_type: str | None = None) -> NewFile:
        body = compact({"filename": filename, "size": size, "content_type": content_type})
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
        return self._json("POST", f"/v1/files/{seg(file_id)}/complete")  # type: ignore[no-any-return]

    def upload_file(self, source: Source, *, filename: str | None = None, progress: Progress | None = None) -> File:
        """create + presigned POST + complete: the ready file's JSON (with its ``metadata``)."""
        data, name = load(source, filename)
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        content_type = mimetypes.guess_type(name)[0]
        created = self.create_file(name, size, content_type)
        self.upload_to(created["upload"], data, name, content_type, progress)
        return self.complete_file(created["id"])

    def import_url(self, url: str, *, filename: str | None = None, headers: Mapping[str, str] | None = None) -> File:
        """POST /v1/files/import: the file (``importing``); a worker fetches it. ``headers`` (e.g.
        ``Authorization`` for a private link) go to the URL's own origin only. See ``wait_for_file``."""
        body = compact({"url": url, "filename": filename, "headers": dict(headers) if headers else None})
        return self._json("POST", "/v1/files/import", json=body)  # type: ignore[no-any-return]

    def wait_for_file(self, file_id: str, *, timeout: float = 900.0) -> File:
        """Poll with backoff until an importing file is ready (its JSON) or failed (ImportFailedError)."""
        return self._poll(
            lambda: self.get_file(file_id),
            ready="ready",
            failure=ImportFailedError,
            name=f"file {file_id}",
            timeout=timeout,
        )

    def get_file(self, file_id: str) -> File:
        return self._json("GET", f"/v1/files/{seg(file_id)}")  # type: ignore[no-any-return]

    def list_files(self, *, limit: int = 20, cursor: str | None = None) -> Page:
        return self._json("GET", "/v1/files", params={"limit": limit, "cursor": cursor})  # type: ignore[no-any-return]

    def iter_files(self, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/files", page_size)

    def file_content_url(self, file_id: str) -> str:
        """The short-lived presigned download URL (the 302's Location)."""
        response = self.request("GET", f"/v1/files/{seg(file_id)}/content")
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
        return self.download_url(self.file_content_url(file_id), output_of(output, to), progress=progress)

    def delete_file(self, file_id: str) -> None:
        self.request("DELETE", f"/v1/files/{seg(file_id)}")

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
        output = output_of(output, to)
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
