"""Domain errors. Each carries the HTTP status and code of docs/api.md §4; one handler per app renders them."""

from __future__ import annotations

import json

# Every failure to authenticate gets this one message (docs/api.md §1), and it says how a key is sent.
INVALID_API_KEY_MESSAGE = (
    "Invalid or missing API key. Send it as `Authorization: Bearer fg_...` (or Basic, with the key as user name)."
)


class ApiError(Exception):
    status = 500
    code = "internal_error"
    default_message = "An internal error occurred."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidRequest(ApiError):
    status, code, default_message = 400, "invalid_request", "The request is malformed."


class InvalidSignature(ApiError):
    """A signed delivery (GitHub secret scanning, docs/api.md §9) whose signature is missing, unknown or wrong."""

    status, code, default_message = 401, "invalid_signature", "The request's signature is missing or invalid."


class InvalidApiKey(ApiError):
    # Word for word the template's UNAUTHORIZED gateway response (a test holds them equal).
    status, code, default_message = 401, "invalid_api_key", INVALID_API_KEY_MESSAGE

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="filegate"'})


class InsufficientScope(ApiError):
    status, code, default_message = 403, "insufficient_scope", "This key may not call this route."


class AccountSuspended(ApiError):
    status, code, default_message = 403, "account_suspended", "This account is suspended."


class TierRequired(ApiError):
    status, code, default_message = 403, "tier_required", "Your plan does not include this feature."


class NotFound(ApiError):
    status, code, default_message = 404, "not_found", "No such resource."


class EmailTaken(ApiError):
    status, code, default_message = 409, "email_taken", "An account with this email already exists."


class Conflict(ApiError):
    status, code, default_message = 409, "conflict", "The request conflicts with the current state."


class FileTooLarge(ApiError):
    status, code, default_message = 413, "file_too_large", "The file is too large."


class UnsupportedMediaType(ApiError):
    status, code, default_message = 415, "unsupported_media_type", "The file's format is not supported."


class UnsupportedConversion(ApiError):
    status, code, default_message = 422, "unsupported_conversion", "This conversion is not supported."


class InvalidParameter(ApiError):
    status, code, default_message = 422, "invalid_parameter", "A parameter is invalid."


class MethodNotAllowed(ApiError):
    """A known path with a method it does not take; carries `Allow`."""

    status, code, default_message = 405, "method_not_allowed", "This path does not take this method."


class ConversionFailed(ApiError):
    status, code, default_message = 422, "conversion_failed", "The file could not be converted."


class RateLimited(ApiError):
    status, code, default_message = 429, "rate_limited", "Too many requests; retry after the indicated time."


class QuotaExceeded(ApiError):
    status, code, default_message = 429, "quota_exceeded", "The monthly conversion quota is used up."


class InternalError(ApiError):
    pass


def error_body(code: str, message: str, request_id: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_bytes(code: str, message: str, request_id: str) -> bytes:
    """The error body as sent: spelled as template.yaml's gateway responses spell it (json.dumps' default
    separators), so a function's 401 is byte-identical to the gateway's and only AWS's header remapping
    tells them apart."""
    return json.dumps(error_body(code, message, request_id)).encode()
