"""A stored input served to FFmpeg over loopback HTTP in ranges, so FFmpeg reads only what it asks for.

Long media (docs/api.md "Media" → "Long media"): a segment's invocation seeks into an input that may be larger
than the worker's disk, so the input is never copied whole. FFmpeg's http client seeks with ``Range``
requests; this server answers them from a ranged reader (S3 GetObject with ``Range``, given by the caller:
no AWS here). It listens on 127.0.0.1 on a free port, for one path (a random token), for the life of a
``with`` block; any other path is 404. FFmpeg never sees a credential or a presigned URL.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

# (first byte, last byte inclusive) → the bytes, in chunks
RangeReader = Callable[[int, int], Iterator[bytes]]
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
# How often the serving loop looks for shutdown: leaving the ``with`` block waits up to this long (the
# default 0.5 s was half of a one-page document's whole conversion).
SHUTDOWN_POLL_SECONDS = 0.02


class HttpSource:
    """``with HttpSource(size, read) as url:`` FFmpeg may read `url` while the block runs. With
    ``HttpSource.of(objects)``, each named object is at ``<url>/<name>`` instead."""

    def __init__(self, size: int, read: RangeReader) -> None:
        self.objects: dict[str, tuple[int, RangeReader]] = {"": (size, read)}
        self.token = secrets.token_urlsafe(16)
        self._server: ThreadingHTTPServer | None = None

    @classmethod
    def of(cls, objects: Mapping[str, tuple[int, RangeReader]]) -> HttpSource:
        source = cls(0, lambda first, last: iter(()))
        source.objects = {f"/{name}": value for name, value in objects.items()}
        return source

    def __enter__(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="http-source", daemon=True
        ).start()
        self._server = server
        return f"http://127.0.0.1:{server.server_address[1]}/{self.token}"

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                prefix = f"/{source.token}"
                found = source.objects.get(self.path[len(prefix) :]) if self.path.startswith(prefix) else None
                if found is None:
                    self.send_error(404)
                    return
                size, read = found
                first, last, status = 0, size - 1, 200
                asked = _RANGE.match(self.headers.get("Range", ""))
                if asked:
                    first = int(asked.group(1))
                    last = min(int(asked.group(2)), last) if asked.group(2) else last
                    status = 206
                    if first >= size or first > last:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                self.send_response(status)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(last - first + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.end_headers()
                if not body:
                    return
                # FFmpeg hangs up when it seeks elsewhere: that ends this answer, not the server.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for chunk in read(first, last):
                        self.wfile.write(chunk)

            def log_message(self, format: str, *args: object) -> None:
                return  # no access log: the token is in the path

        return Handler
