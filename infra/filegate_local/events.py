"""Building the events API Gateway (REST) hands to Lambda: the proxy event and the authorizer events.

The shapes follow what API Gateway sends (and what `sam local generate-event apigateway aws-proxy` /
`request-authorizer` print); a test holds them against sam's output.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from filegate_local.template import ACCOUNT_ID, REGION


@dataclass
class IncomingRequest:
    """An HTTP request as the gateway received it."""

    method: str
    raw_path: str  # as on the wire, without the query string
    query: str
    headers: list[tuple[str, str]]  # in arrival order, names as sent
    body: bytes
    source_ip: str
    gateway_port: int
    protocol: str = "HTTP/1.1"
    request_id: str = ""
    extended_request_id: str = field(default_factory=lambda: _extended_request_id())
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """The last value of a header, looked up case-insensitively (like API Gateway's `headers`)."""
        wanted = name.lower()
        value = None
        for key, item in self.headers:
            if key.lower() == wanted:
                value = item
        return value

    @property
    def path(self) -> str:
        return self.raw_path or "/"


def _extended_request_id() -> str:
    # API Gateway's extended request id looks like "BQGojGkhoAMFlCg=".
    return base64.b64encode(secrets.token_bytes(10)).decode()[:15] + "="


def resource_id(resource_path: str) -> str:
    """A stable 6-character resource id per resource path, like API Gateway's."""
    return hashlib.sha256(resource_path.encode()).hexdigest()[:6]


def request_time(epoch: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))


# Hop-by-hop headers end at the edge; the integration never sees them.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
REPLACED = frozenset({"x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"})


def _gateway_headers(request: IncomingRequest) -> list[tuple[str, str]]:
    """The request's headers as the integration sees them: API Gateway appends the X-Forwarded-* trio."""
    headers: list[tuple[str, str]] = []
    forwarded = None
    for name, value in request.headers:
        lower = name.lower()
        if lower == "x-forwarded-for":
            forwarded = value if forwarded is None else f"{forwarded}, {value}"
        elif lower not in HOP_BY_HOP and lower not in REPLACED:
            headers.append((name, value))
    chain = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers.append(("X-Forwarded-For", chain))
    headers.append(("X-Forwarded-Port", str(request.gateway_port)))
    headers.append(("X-Forwarded-Proto", "http"))
    trace = f"Root=1-{int(request.received_at):08x}-{hashlib.sha256(request.request_id.encode()).hexdigest()[:24]}"
    headers.append(("X-Amzn-Trace-Id", trace))
    return headers


def header_maps(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`headers` (last value wins) and `multiValueHeaders`; names keep the case first seen."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}
    for name, value in pairs:
        key = canonical.setdefault(name.lower(), name)
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def query_maps(query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`queryStringParameters` (last value wins) and the multi-value form, values URL-decoded."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        key, item = unquote(name), unquote(value)
        single[key] = item
        multi.setdefault(key, []).append(item)
    return single, multi


def identity(request: IncomingRequest) -> dict[str, Any]:
    # sourceIp is the TCP peer: a client-sent X-Forwarded-For never changes it.
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": request.header("User-Agent"),
        "user": None,
        "apiKey": None,  # only with API keys
        "clientCert": None,  # only with mutual TLS
    }


@dataclass(frozen=True)
class ApiContext:
    """Where a request landed: the API, its stage and the matched resource."""

    api_id: str
    stage: str
    resource_path: str  # e.g. /v1/keys/{id}, or "" when no route matched
    path_parameters: dict[str, str]


def request_context(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    host = request.header("Host") or f"{api.api_id}.execute-api.{REGION}.amazonaws.com"
    return {
        "resourceId": resource_id(api.resource_path),
        "resourcePath": api.resource_path,
        "httpMethod": request.method,
        "extendedRequestId": request.extended_request_id,
        "requestTime": request_time(request.received_at),
        "path": f"/{api.stage}{request.path}",
        "accountId": ACCOUNT_ID,
        "protocol": request.protocol,
        "stage": api.stage,
        "domainPrefix": host.split(".")[0].split(":")[0],
        "requestTimeEpoch": int(request.received_at * 1000),
        "requestId": request.request_id,
        "identity": identity(request),
        "domainName": host,
        "deploymentId": resource_id(f"deployment/{api.api_id}/{api.stage}"),
        "apiId": api.api_id,
    }


def method_arn(request: IncomingRequest, api: ApiContext) -> str:
    return (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.api_id}/{api.stage}/{request.method}/"
        f"{request.path.lstrip('/')}"
    )


def body_for_event(body: bytes, binary: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if binary:
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", "replace"), False


def proxy_event(
    request: IncomingRequest,
    api: ApiContext,
    *,
    binary: bool,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    """The Lambda proxy integration event (payload format 1.0)."""
    headers, multi_headers = header_maps(_gateway_headers(request))
    query, multi_query = query_maps(request.query)
    body, is_base64 = body_for_event(request.body, binary)
    context = request_context(request, api)
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": api.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": api.path_parameters or None,
        "stageVariables": None,  # the template declares none
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def request_authorizer_event(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """The event of a REQUEST Lambda authorizer."""
    headers, multi_headers = header_maps(_gateway_headers(request))
    query, multi_query = query_maps(request.query)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(request, api),
        "resource": api.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": api.path_parameters,
        "stageVariables": {},
        "requestContext": request_context(request, api),
    }
