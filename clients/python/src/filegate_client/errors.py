"""Typed exceptions: every API error carries the body's code, message and request id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The `filegate` command's exit codes: success; an API call (or any file of a batch) failed; bad usage or
# configuration.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class FileGateError(Exception):
    """Base of every error this package raises."""


class ConfigurationError(FileGateError):
    """No API key or base URL: nothing was sent. ``missing`` is ``"api_key"`` or ``"base_url"`` (the command
    line says it in its own words: its flags and variables)."""

    def __init__(self, message: str, *, missing: str) -> None:
        self.missing = missing
        super().__init__(message)


class TransportError(FileGateError):
    """The API could not be reached (connection refused, timeout) after the retries."""


class APIError(FileGateError):
    """An error answer of the API: ``{"error": {"code", "message", "request_id"}}``."""

    def __init__(
        self, status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.headers = dict(headers or {})
        super().__init__(f"{status} {code}: {message} (request {request_id or 'unknown'})")


class InvalidRequestError(APIError):
    """400"""


class AuthenticationError(APIError):
    """401: the key is missing, malformed, unknown, revoked, expired or used from a refused IP."""


class PermissionDeniedError(APIError):
    """403: insufficient_scope, account_suspended or tier_required."""


class NotFoundError(APIError):
    """404"""


class ConflictError(APIError):
    """409: email_taken or conflict."""


class FileTooLargeError(APIError):
    """413"""


class UnsupportedMediaTypeError(APIError):
    """415"""


class UnprocessableError(APIError):
    """422: unsupported_conversion, invalid_parameter or conversion_failed."""


class RateLimitError(APIError):
    """429: rate_limited or quota_exceeded; ``retry_after`` is the server's Retry-After in seconds."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(APIError):
    """5xx"""


class ConversionFailedError(FileGateError):
    """An async conversion ended as ``failed``; ``conversion`` is the job as the API reported it."""

    def __init__(self, conversion: Mapping[str, Any]) -> None:
        self.conversion = dict(conversion)
        error = conversion.get("error") or {}
        self.code = str(error.get("code", "conversion_failed")) if isinstance(error, Mapping) else "conversion_failed"
        self.message = str(error.get("message", error)) if isinstance(error, Mapping) else str(error)
        self.request_id = ""
        super().__init__(f"conversion {conversion.get('id')} failed: {self.code}: {self.message}")


class ImportFailedError(FileGateError):
    """A URL import ended as ``failed``; ``file`` is the file as the API reported it (``error.code`` is
    ``import_refused``, ``import_failed``, ``file_too_large`` or ``unsupported_media_type``)."""

    def __init__(self, file: Mapping[str, Any]) -> None:
        self.file = dict(file)
        error = file.get("error") or {}
        self.code = str(error.get("code", "import_failed")) if isinstance(error, Mapping) else "import_failed"
        self.message = str(error.get("message", error)) if isinstance(error, Mapping) else str(error)
        self.request_id = ""
        super().__init__(f"import of file {file.get('id')} failed: {self.code}: {self.message}")


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: FileTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def error_from_response(status: int, body: Any, headers: Mapping[str, str]) -> APIError:
    """The typed error for an error answer; tolerates a body that is not the documented shape."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        code = str(error.get("code", "unknown_error"))
        message = str(error.get("message", ""))
        request_id = str(error.get("request_id", ""))
    else:
        code, message, request_id = "unknown_error", f"Unexpected HTTP {status} answer.", ""
    request_id = request_id or headers.get("x-request-id", "")
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(status, code, message, request_id, headers)
