"""Powertools logging, metrics and tracing, wired the same way in every function.

Logs are JSON with the API Gateway request id as correlation id. Nothing here logs events or headers:
they carry raw keys. Log the key prefix and key id instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], Any]


def instrument(handler: Handler, *, trace: bool = True, correlation_path: str | None = None) -> Handler:
    """Wrap a Lambda handler with logger context, EMF metrics flushing and (optionally) X-Ray tracing.

    The authorizer passes ``trace=False``: the X-Ray SDK costs ~300 ms of imports on its cold path.
    """
    wrapped: Handler = logger.inject_lambda_context(
        correlation_id_path=correlation_path or correlation_paths.API_GATEWAY_REST
    )(handler)
    wrapped = metrics.log_metrics(wrapped)
    if trace:
        from aws_lambda_powertools import Tracer

        wrapped = Tracer().capture_lambda_handler(wrapped)
    return wrapped
