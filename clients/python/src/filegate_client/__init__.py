"""FileGate's Python SDK. ``FileGate`` is the client; errors are in ``filegate_client.errors``."""

from filegate_client.client import ConvertResult, FileGate
from filegate_client.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ConversionFailedError,
    FileGateError,
    FileTooLargeError,
    ImportFailedError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from filegate_client.webhooks import WebhookVerificationError, verify

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ConversionFailedError",
    "ConvertResult",
    "FileGate",
    "FileGateError",
    "FileTooLargeError",
    "ImportFailedError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "WebhookVerificationError",
    "verify",
]
__version__ = "0.1.0"
