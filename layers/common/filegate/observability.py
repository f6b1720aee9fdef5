"""Powertools logging, metrics and tracing, wired the same way in every function.

Logs are JSON with the API Gateway request id as correlation id. Nothing here logs events or headers:
they carry raw keys. Log the key prefix and key id instead.

Business metrics are CloudWatch EMF lines (namespace ``FileGate``, dimension ``service``), one per
event, written when the event happens: a request that counts nothing writes nothing (so no "No
application metrics to publish" warning on every request), and events with different dimensions in one
invocation (a worker batch of several kinds) never share a dimension set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()

Handler = Callable[[dict[str, Any], Any], Any]

# ------------------------------------------------------------------ business metrics

NAMESPACE: Final = "FileGate"  # the CloudWatch namespace of every FileGate metric

CONVERSIONS_SUCCEEDED: Final = "ConversionsSucceeded"  # dimension kind
CONVERSIONS_FAILED: Final = "ConversionsFailed"  # dimension kind; failed conversions are never charged
RATE_LIMITED: Final = "RateLimited"  # 429 rate_limited answered by a function
QUOTA_EXCEEDED: Final = "QuotaExceeded"  # 429 quota_exceeded
WEBHOOKS_DELIVERED: Final = "WebhooksDelivered"  # a delivery acknowledged by its receiver (2xx)
WEBHOOK_ATTEMPTS_FAILED: Final = "WebhookAttemptsFailed"  # an attempt failed; a retry is scheduled
WEBHOOKS_FAILED: Final = "WebhooksFailed"  # a delivery given up: every retry failed, dead-lettered

# The error codes whose answers are counted, and as what.
_REFUSALS: Final = {"rate_limited": RATE_LIMITED, "quota_exceeded": QUOTA_EXCEEDED}


def count(name: str, **dimensions: str) -> None:
    """One occurrence of a business event, published at once. Never fails the work it counts."""
    try:
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            for key, value in dimensions.items():
                metric.add_dimension(name=key, value=value)
    except Exception:
        logger.exception("metric not published", extra={"metric": name})


def conversion_finished(kind: str, *, succeeded: bool) -> None:
    """``kind``: what the conversion produces (``image``, ``document``, ``audio``, ``video``; ``unknown`` if it
    never got that far)."""
    count(CONVERSIONS_SUCCEEDED if succeeded else CONVERSIONS_FAILED, kind=kind)


def request_refused(code: str) -> None:
    """Counts the refusals worth watching (rate limited, quota exceeded) from an error answer's code."""
    name = _REFUSALS.get(code)
    if name is not None:
        count(name)


# ------------------------------------------------------------------ handlers


def instrument(handler: Handler, *, trace: bool = True, correlation_path: str | None = None) -> Handler:
    """Wrap a Lambda handler with logger context and (optionally) X-Ray tracing.

    The authorizer passes ``trace=False``: the X-Ray SDK costs ~300 ms of imports on its cold path.
    """
    wrapped: Handler = logger.inject_lambda_context(
        correlation_id_path=correlation_path or correlation_paths.API_GATEWAY_REST
    )(handler)
    if trace:
        from aws_lambda_powertools import Tracer

        wrapped = Tracer().capture_lambda_handler(wrapped)
    return wrapped
