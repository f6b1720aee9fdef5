"""Flushing API Gateway's authorizer cache, so a change to a key or account applies on the next request."""

from __future__ import annotations

import random
import time

from botocore.exceptions import ClientError

from filegate import aws

RETRYABLE = {"TooManyRequestsException", "ThrottlingException", "ServiceUnavailableException"}


class CacheFlushFailed(Exception):
    pass


def flush_authorizer_cache(api_id: str, stage: str, *, attempts: int, base_delay: float) -> None:
    """FlushStageAuthorizersCache, retried with jittered exponential backoff while API Gateway throttles."""
    apigateway = aws.client("apigateway")
    for attempt in range(attempts):
        try:
            apigateway.flush_stage_authorizers_cache(restApiId=api_id, stageName=stage)
            return
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in RETRYABLE or attempt == attempts - 1:
                raise CacheFlushFailed(code) from exc
        time.sleep(base_delay * (2**attempt) * (0.5 + random.random()))
