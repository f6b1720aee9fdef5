"""API Gateway's gateway responses, as template.yaml configures them: a status, an application/json body
template with `$context.*` references, and headers from literals ('...'), `context.*` or
`method.request.header.*`. A type the template leaves out falls back to its DEFAULT_4XX or DEFAULT_5XX
(the supported-set check in filegate_local.template makes sure both are there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The response types the gateway answers with (filegate_local.gateway), and their default status.
DEFAULT_STATUS: dict[str, int] = {
    "ACCESS_DENIED": 403,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "INTEGRATION_TIMEOUT": 504,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
}
ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "THROTTLED": "TooManyRequestsException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
}
# $context.a.b or ${context.a.b} (braced: only then may a "}" follow directly).
_REFERENCE = re.compile(r"\$!?(\{)?context((?:\.[\w-]+)+)(?(1)\})")


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    response_type: str


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """Substitute `$context.x.y` references; unknown ones render empty."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = variables.get("context")
        for part in match.group(2).lstrip(".").split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return _REFERENCE.sub(lookup, template)


class GatewayResponses:
    """One API's gateway responses, as configured in the template."""

    def __init__(self, configured: Mapping[str, Mapping[str, Any]]) -> None:
        self.configured = {str(k).upper(): dict(v or {}) for k, v in configured.items()}

    def render(
        self,
        response_type: str,
        context: Mapping[str, Any],
        *,
        status: int | None = None,
        request_headers: Mapping[str, str] | None = None,
    ) -> GatewayResponse:
        """The response for `response_type`; `status` overrides the type's default (e.g. 502 for DEFAULT_5XX)."""
        status = status if status is not None else DEFAULT_STATUS[response_type]
        config = self.configured.get(response_type)
        if config is None:
            config = self.configured["DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"]
        elif config.get("StatusCode"):
            status = int(config["StatusCode"])
        variables = {"context": context}
        template = str((config.get("ResponseTemplates") or {}).get("application/json", ""))
        headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
        lowered = {k.lower(): v for k, v in (request_headers or {}).items()}
        for name, expression in ((config.get("ResponseParameters") or {}).get("Headers") or {}).items():
            value = _header_value(str(expression).strip(), variables, lowered)
            if value is not None:
                headers.append((str(name), value))
        headers.append(("x-amzn-ErrorType", ERROR_TYPES.get(response_type, _generic_error(status))))
        return GatewayResponse(status, headers, render_template(template, variables).encode(), response_type)


def _header_value(expression: str, variables: Mapping[str, Any], request_headers: Mapping[str, str]) -> str | None:
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    if expression.startswith("method.request.header."):
        return request_headers.get(expression.removeprefix("method.request.header.").lower())
    return render_template("$" + expression, variables) or None


def _generic_error(status: int) -> str:
    return "InternalServerErrorException" if status >= 500 else "BadRequestException"
