"""What one request's answer counts as (docs/api.md §5): one place for the rule."""

from __future__ import annotations

from typing import Final, Literal

Outcome = Literal["succeeded", "client_errors", "refused", "rate_limited", "quota_exceeded", "server_errors"]

# The outcomes the API reports, in the order it lists them (server errors are counted in ``requests`` only).
REPORTED: Final[tuple[Outcome, ...]] = ("succeeded", "client_errors", "refused", "rate_limited", "quota_exceeded")
# Every counted field of a bucket: the total, each outcome, then what the requests started.
FIELDS: Final = ("requests", *REPORTED, "conversions", "units")


def classify(status: int, code: str | None = None) -> Outcome:
    """``succeeded`` 2xx/3xx; ``refused`` 401/403 (the key was recognised, then refused: revoked, outside its
    allowlist, scope, tier); the two 429s by their code; every other 4xx a client error."""
    if status < 400:
        return "succeeded"
    if status in (401, 403):
        return "refused"
    if status == 429:
        return "quota_exceeded" if code == "quota_exceeded" else "rate_limited"
    if status < 500:
        return "client_errors"
    return "server_errors"
