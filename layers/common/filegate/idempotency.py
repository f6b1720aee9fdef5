"""Idempotency-Key for POST /v1/conversions, on Powertools idempotency with DynamoDB persistence.

The key is scoped to the account; the same key with the same body within the window returns the
first answer (and charges once); the same key with another body, or while the first is still running,
is 409 conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from filegate import errors

MAX_KEY_LENGTH = 255

Operation = Callable[..., dict[str, Any]]


class Idempotent:
    """Wraps one operation ``f(request: dict, **extra) -> dict`` so it runs once per (account, key, body)."""

    def __init__(self, operation: Operation, *, table_name: str, expires_after_seconds: int) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="[account_id, idempotency_key]",
            payload_validation_jmespath="body",
            expires_after_seconds=expires_after_seconds,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name)
        self._operation = operation
        self._wrapped = idempotent_function(
            data_keyword_argument="request", config=self.config, persistence_store=persistence
        )(operation)

    def __call__(self, *, key: str | None, account_id: str, body: Any, lambda_context: Any, **extra: Any) -> Any:
        request = {"account_id": account_id, "idempotency_key": key, "body": body}
        if key is None:
            return self._operation(request=request, **extra)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise errors.InvalidRequest(f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} characters.")
        if lambda_context is not None:
            self.config.register_lambda_context(lambda_context)
        try:
            return self._wrapped(request=request, **extra)
        except IdempotencyValidationError as exc:
            raise errors.Conflict("This Idempotency-Key was used with a different request body.") from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise errors.Conflict("A request with this Idempotency-Key is still in progress; retry shortly.") from exc
