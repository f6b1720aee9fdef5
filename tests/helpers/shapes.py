"""The members of the API's answers as docs/api.md §5 lists them, for the tests that hold the API to them."""

from __future__ import annotations

# Every answer that creates a key: sign-up, POST /v1/keys and both rotations.
CREATED_KEY_FIELDS = frozenset(
    {"api_key", "key_id", "name", "key_prefix", "scopes", "allowed_ips", "expires_at", "created_at"}
)
# A key as GET /v1/keys lists it (never a hash, never the raw key).
LISTED_KEY_FIELDS = frozenset(
    {"id", "name", "key_prefix", "scopes", "allowed_ips", "created_at", "last_used_at", "expires_at", "revoked_at"}
)
