"""Small HTTP(S) servers on 127.0.0.1 for egress and import tests: each route a function, every request
recorded, started and stopped by the test that uses them. Never bound to anything but loopback."""

from __future__ import annotations

import contextlib
import http.server
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# A route writes the whole answer itself through the handler (status line, headers, body).
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names lower-cased


@dataclass
class Site:
    server: http.server.ThreadingHTTPServer
    routes: dict[str, Route]
    scheme: str = "http"
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends slow handlers at teardown

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def reply(
    handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    sent = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    for name, value in sent.items():
        handler.send_header(name, value)
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def redirect(to: str, status: int = 302) -> Route:
    return lambda h: reply(h, status, headers={"Location": to})


def serve(body: bytes, content_type: str = "application/octet-stream") -> Route:
    return lambda h: reply(h, 200, body, {"Content-Type": content_type})


def start_site(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> Site:
    site_ref: list[Site] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site = site_ref[0]
            path = self.path.split("?", 1)[0]
            site.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(path)
            if route is None:
                reply(self, 404, b"no such route")
                return
            # The client may hang up mid-answer, as the guard does when it stops reading.
            with contextlib.suppress(OSError):
                route(self)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    site = Site(server, routes, "https" if tls is not None else "http")
    site_ref.append(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site


def stop_site(site: Site) -> None:
    site.release.set()
    site.server.shutdown()
    site.server.server_close()


def sites(*route_tables: dict[str, Route]) -> Iterator[list[Site]]:
    """Start one site per route table; stop them all afterwards (a generator for fixtures)."""
    started = [start_site(routes) for routes in route_tables]
    try:
        yield started
    finally:
        for site in started:
            stop_site(site)
