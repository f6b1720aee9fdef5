"""API Gateway's gateway responses: the answers the gateway gives itself (401, 403, 404, 413, 429, 5xx...).

The template's `GatewayResponses` customise them; a type the template leaves out falls back to
DEFAULT_4XX / DEFAULT_5XX (by its status class), and then to API Gateway's built-in body. Templates are
rendered with the `$context` variables API Gateway offers there, including `$context.authorizer.*`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Response type -> (default status, default error message).
RESPONSE_TYPES: dict[str, tuple[int, str | None]] = {
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "AUTHORIZER_FAILURE": (500, None),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "EXPIRED_TOKEN": (403, "The security token included in the request is expired"),
    "INTEGRATION_FAILURE": (504, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "INVALID_SIGNATURE": (403, "The request signature we calculated does not match"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "RESOURCE_NOT_FOUND": (404, "Not Found"),
    "THROTTLED": (429, "Too Many Requests"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "WAF_FILTERED": (403, "Forbidden"),
    "DEFAULT_4XX": (400, "Bad Request"),
    "DEFAULT_5XX": (500, "Internal server error"),
}

DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'

# $context.a.b, $!context.a.b (quiet), ${context.a.b} (braced: only then is a "}" part of it).
_REFERENCE = re.compile(
    r"\$!?(?:\{(context|stageVariables)((?:\.[A-Za-z0-9_-]+)+)\}|(context|stageVariables)((?:\.[A-Za-z0-9_-]+)+))"
)


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    response_type: str


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """Substitute `$context.x.y` / `${context.x}` / `$stageVariables.x` references; unknown ones render empty."""

    def lookup(match: re.Match[str]) -> str:
        root, path = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        value: Any = variables.get(root)
        for part in path.lstrip(".").split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    return _REFERENCE.sub(lookup, template)


def _header_value(
    expression: str,
    variables: Mapping[str, Any],
    request_headers: Mapping[str, str],
    query: Mapping[str, str],
    path_parameters: Mapping[str, str],
) -> str | None:
    expression = expression.strip()
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    sources: dict[str, Mapping[str, str]] = {
        "method.request.header.": {k.lower(): v for k, v in request_headers.items()},
        "method.request.querystring.": query,
        "method.request.path.": path_parameters,
    }
    for prefix, source in sources.items():
        if expression.startswith(prefix):
            name = expression[len(prefix) :]
            return source.get(name.lower() if prefix.endswith("header.") else name)
    if expression.startswith(("context.", "stageVariables.")):
        rendered = render_template("$" + expression, variables)
        return rendered or None
    return None


class GatewayResponses:
    """One API's gateway responses, as configured in the template."""

    def __init__(self, configured: Mapping[str, Mapping[str, Any]]) -> None:
        self.configured = {str(k).upper(): dict(v or {}) for k, v in configured.items()}

    def _config_for(self, response_type: str, status: int) -> dict[str, Any] | None:
        if response_type in self.configured:
            return self.configured[response_type]
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        return self.configured.get(fallback)

    def render(
        self,
        response_type: str,
        context: Mapping[str, Any],
        *,
        status: int | None = None,
        message: str | None = None,
        stage_variables: Mapping[str, str] | None = None,
        request_headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        path_parameters: Mapping[str, str] | None = None,
    ) -> GatewayResponse:
        """The response for `response_type`; `status` overrides the type's default (e.g. 502 for DEFAULT_5XX)."""
        default_status, default_message = RESPONSE_TYPES.get(response_type, RESPONSE_TYPES["DEFAULT_5XX"])
        status = status if status is not None else default_status
        config = self._config_for(response_type, status)
        if config and config.get("StatusCode") and response_type in self.configured:
            status = int(config["StatusCode"])
        error_message = message if message is not None else default_message
        variables: dict[str, Any] = {
            "context": {
                **context,
                "error": {
                    "message": error_message if error_message is not None else "",
                    "messageString": json.dumps(error_message),
                    "responseType": response_type,
                    "validationErrorString": "",
                },
            },
            "stageVariables": dict(stage_variables or {}),
        }
        templates: Mapping[str, str] = (config or {}).get("ResponseTemplates") or {}
        content_type = "application/json"
        if templates:
            content_type = "application/json" if "application/json" in templates else next(iter(templates))
            template = str(templates[content_type])
        else:
            template = DEFAULT_TEMPLATE
        body = render_template(template, variables).encode()
        headers: list[tuple[str, str]] = [("Content-Type", content_type)]
        parameters = (config or {}).get("ResponseParameters") or {}
        for group in ("Headers",):
            for name, expression in (parameters.get(group) or {}).items():
                value = _header_value(
                    str(expression), variables, request_headers or {}, query or {}, path_parameters or {}
                )
                if value is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != str(name).lower()]
                    headers.append((str(name), value))
        # The raw CloudFormation form, "gatewayresponse.header.X": "'v'", is honoured as well.
        for key, expression in parameters.items():
            if key.startswith("gatewayresponse.header."):
                value = _header_value(
                    str(expression), variables, request_headers or {}, query or {}, path_parameters or {}
                )
                if value is not None:
                    headers.append((key[len("gatewayresponse.header.") :], value))
        headers.append(("x-amzn-ErrorType", _error_type(response_type)))
        return GatewayResponse(status=status, headers=headers, body=body, response_type=response_type)


def _error_type(response_type: str) -> str:
    return {
        "UNAUTHORIZED": "UnauthorizedException",
        "ACCESS_DENIED": "AccessDeniedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "THROTTLED": "TooManyRequestsException",
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
        "AUTHORIZER_FAILURE": "AuthorizerFailureException",
        "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
        "INTEGRATION_TIMEOUT": "InternalServerErrorException",
    }.get(response_type, "InternalServerErrorException" if response_type.endswith("5XX") else "BadRequestException")
