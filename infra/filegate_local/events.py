"""The events API Gateway (REST) hands to Lambda: the proxy event (payload 1.0) and the REQUEST authorizer's.

Their shapes are those `sam local generate-event apigateway aws-proxy` / `request-authorizer` print, plus the
few fields AWS adds (tests/local/test_local_gateway.py holds them against sam's output).
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from filegate_local.template import ACCOUNT_ID, REGION

# Hop-by-hop headers end at the edge; API Gateway sets the X-Forwarded-* trio itself.
DROPPED_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
    | {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
)


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
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """The last value of a header, looked up case-insensitively (like API Gateway's `headers`)."""
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), None)

    @property
    def path(self) -> str:
        return self.raw_path or "/"


@dataclass(frozen=True)
class ApiContext:
    """Where a request landed: the API, its stage and the matched resource."""

    api_id: str
    stage: str
    resource_path: str  # e.g. /v1/keys/{id}, or "" when no route matched
    path_parameters: dict[str, str]


def _maps(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The single-value map (the last value wins) and the multi-value one."""
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def request_context(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """`requestContext`, also what gateway responses render `$context.*` from."""
    # sourceIp is the TCP peer: a client-sent X-Forwarded-For never changes it.
    nulls = "cognitoIdentityPoolId accountId cognitoIdentityId caller accessKey apiKey clientCert user userArn"
    identity: dict[str, Any] = dict.fromkeys(f"{nulls} cognitoAuthenticationType cognitoAuthenticationProvider".split())
    identity |= {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")}
    return {
        "accountId": ACCOUNT_ID,
        "resourceId": hashlib.sha256(api.resource_path.encode()).hexdigest()[:6],
        "stage": api.stage,
        "requestId": request.request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_at)),
        "requestTimeEpoch": int(request.received_at * 1000),
        "identity": identity,
        "path": f"/{api.stage}{request.path}",
        "resourcePath": api.resource_path,
        "httpMethod": request.method,
        "apiId": api.api_id,
        "protocol": request.protocol,
        "domainName": request.header("Host") or f"{api.api_id}.execute-api.{REGION}.amazonaws.com",
    }


def method_arn(request: IncomingRequest, api: ApiContext) -> str:
    path = request.path.lstrip("/")
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.api_id}/{api.stage}/{request.method}/{path}"


def _request_fields(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """What both events say of the request; header names merge case-insensitively (the first spelling)."""
    names: dict[str, str] = {}
    headers = [(names.setdefault(n.lower(), n), v) for n, v in request.headers if n.lower() not in DROPPED_HEADERS]
    forwarded = [v for n, v in request.headers if n.lower() == "x-forwarded-for"]
    headers += [("X-Forwarded-For", ", ".join([*forwarded, request.source_ip]))]
    headers += [("X-Forwarded-Port", str(request.gateway_port)), ("X-Forwarded-Proto", "http")]
    query = [p.partition("=") for p in request.query.split("&") if p]
    single_headers, multi_headers = _maps(headers)
    single_query, multi_query = _maps([(unquote(name), unquote(value)) for name, _, value in query])
    return {
        "resource": api.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": api.path_parameters,
        "requestContext": request_context(request, api),
    }


def proxy_event(
    request: IncomingRequest, api: ApiContext, *, binary: bool, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    """The Lambda proxy integration event: empty maps are null; a binary body is base64."""
    event: dict[str, Any] = {name: value or None for name, value in _request_fields(request, api).items()}
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    body = request.body
    text = (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")) if body else None
    return event | {"stageVariables": None, "body": text, "isBase64Encoded": bool(body) and binary}


def authorizer_event(request: IncomingRequest, api: ApiContext) -> dict[str, Any]:
    """The event of a REQUEST Lambda authorizer."""
    event = {"type": "REQUEST", "methodArn": method_arn(request, api), **_request_fields(request, api)}
    return event | {"stageVariables": {}}
