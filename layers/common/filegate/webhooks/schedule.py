"""The webhook retry schedule (docs/api.md §5) and how it maps onto SQS.

Attempt 1 is the first delivery. After a failed attempt ``n`` the next one is due ``next_delay(n)`` seconds
later: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. After attempt 8 fails, ``next_delay`` is None and the
delivery is dead-lettered (kept in the delivery log with its last error).

SQS caps ``DelaySeconds`` at 900 s, and ``ChangeMessageVisibility`` at 12 h counted from the first receive,
which two 10 h waits exceed; it also fights the Lambda event source mapping over visibility. So a longer wait
is realized as re-enqueue hops: every retry message carries ``not_before`` (unix seconds) and is sent with
``DelaySeconds = next_hop_delay(not_before, now)``. A worker that receives a message before ``not_before``
(``is_due`` false) does not deliver; it sends the same message again with the next hop's delay and
acknowledges the one it got. A 10 h wait is 40 hops: 40 SQS requests, negligible next to its simplicity,
and the queue's retention (4 days by default) is far above the longest wait.

``scale`` compresses the whole schedule for tests and the local stack
(``filegate.settings.WebhookPolicy.webhook_retry_scale``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

RETRY_DELAYS_SECONDS: Final[tuple[int, ...]] = (5, 300, 1_800, 7_200, 18_000, 36_000, 36_000)
MAX_ATTEMPTS: Final = 1 + len(RETRY_DELAYS_SECONDS)
SQS_MAX_DELAY_SECONDS: Final = 900


def next_delay(attempt: int, scale: float = 1.0) -> float | None:
    """Seconds to wait after failed attempt ``attempt`` (1-based), or None: dead-letter it."""
    if attempt < 1:
        raise ValueError("Attempts are numbered from 1.")
    if scale < 0:
        raise ValueError("The schedule scale cannot be negative.")
    if attempt > len(RETRY_DELAYS_SECONDS):
        return None
    return RETRY_DELAYS_SECONDS[attempt - 1] * scale


def next_hop_delay(not_before: float, now: float) -> int:
    """``DelaySeconds`` for the next SQS hop towards ``not_before``: 0 when due, else 1..900."""
    return max(0, min(SQS_MAX_DELAY_SECONDS, math.ceil(not_before - now)))


def is_due(not_before: float, now: float) -> bool:
    return not_before <= now


@dataclass(frozen=True)
class RetryPlan:
    attempt: int  # the number of the attempt to make next
    not_before: float  # unix seconds; carried in the queued message
    delay_seconds: int  # DelaySeconds of the first hop


def plan_retry(failed_attempt: int, now: float, scale: float = 1.0) -> RetryPlan | None:
    """What to enqueue after a failed attempt, or None when the delivery is to be dead-lettered."""
    delay = next_delay(failed_attempt, scale)
    if delay is None:
        return None
    not_before = now + delay
    return RetryPlan(attempt=failed_attempt + 1, not_before=not_before, delay_seconds=next_hop_delay(not_before, now))
