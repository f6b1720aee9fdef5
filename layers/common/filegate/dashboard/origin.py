"""Where the dashboard is, as the browser sees it, and the absolute links it mails."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Origin:
    """Where this dashboard is, as the browser sees it (API Gateway's stage prefix included)."""

    scheme: str
    host: str
    prefix: str  # "/prod" on API Gateway's own domain, "" on the local stack

    def url(self, path: str) -> str:
        return f"{self.prefix}{path}"

    def absolute(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{self.prefix}{path}"


def origin_of(request: Request) -> Origin:
    """From API Gateway's request context (its domain name, not a client header, on AWS). On the default
    execute-api domain the stage is part of every URL; the local stack serves at the root."""
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    host = str(context.get("domainName") or request.headers.get("host") or "localhost")
    stage = str(context.get("stage") or "")
    hostname = host.split("]", 1)[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    local = hostname in ("127.0.0.1", "localhost", "[::1]")
    prefix = f"/{stage}" if stage and ".execute-api." in host else ""
    return Origin("http" if local else "https", host, prefix)


def mail_link(public_base_url: str, request: Request, path: str) -> str:
    """An absolute link for mail: under the configured PublicBaseUrl, never a request's Host header (a proxy in
    front would forward the client's); without one, API Gateway's own domain and stage."""
    if public_base_url:
        return public_base_url.rstrip("/") + path
    return origin_of(request).absolute(path)
