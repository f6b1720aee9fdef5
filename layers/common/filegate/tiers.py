"""The tier table (docs/api.md §2) and every other product limit: one place for each number."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024
GB = 1024 * MB

SYNC_MAX_BYTES = 4 * MB  # sync convert in and out: Lambda's 6 MB payload limit after base64
# docs/api.md's sync budget: /v1/convert and /v1/compress answer within it (202 + a job when the work won't)...
SYNC_BUDGET_SECONDS = 25.0
# ...of which this much is kept for what follows the conversion: storing, recording and answering.
SYNC_ANSWER_RESERVE_SECONDS = 4.0
TEST_MODE_MAX_INPUT_BYTES = 1 * MB  # fg_test_ keys
RATE_WINDOW_SECONDS = 60
FREE_KEY_SIGNUPS_PER_IP_PER_HOUR = 5
DEFAULT_KEY_SCOPES = ("convert:write", "files:read", "files:write")
MAX_ROTATION_GRACE_SECONDS = 86_400

FEATURE_BULK = "bulk"
FEATURE_WEBHOOKS = "webhooks"


@dataclass(frozen=True)
class MediaLimits:
    """Audio and video (docs/api.md §2): the longest input and the largest output frame."""

    max_duration_seconds: int  # the longest input accepted, from its probed duration
    max_frame: tuple[int, int]  # the largest output frame (landscape; a portrait frame is held to it turned)

    def frame_fits(self, width: int, height: int) -> bool:
        long_side, short_side = max(width, height), min(width, height)
        return long_side <= self.max_frame[0] and short_side <= self.max_frame[1]

    def frame_text(self) -> str:
        return f"{self.max_frame[0]}x{self.max_frame[1]}"


@dataclass(frozen=True)
class Tier:
    name: str
    requests_per_minute: int
    conversions_per_month: int
    hard_quota: bool  # True: stop at the limit; False: count overage and allow
    max_file_bytes: int
    features: frozenset[str]
    file_ttl_seconds: int
    max_pixels: int
    max_pdf_pages: int
    media: MediaLimits
    max_document_pages: int  # pages of the PDF a document conversion produces (docs/api.md "Documents")
    # How many items each counter of the account is spread over (docs/api.md §3): one DynamoDB item takes about
    # 1,000 writes a second, so a tier whose traffic can pass that splits its counters, each capped at its
    # share of the limit.
    rate_shards: int = 1
    quota_shards: int = 1


TIERS: dict[str, Tier] = {
    "free": Tier(
        name="free",
        requests_per_minute=10,
        conversions_per_month=1_000,
        hard_quota=True,
        max_file_bytes=25 * MB,
        features=frozenset(),
        file_ttl_seconds=24 * 3600,
        max_pixels=50_000_000,
        max_pdf_pages=50,
        media=MediaLimits(max_duration_seconds=2 * 60, max_frame=(1280, 720)),
        max_document_pages=50,
    ),
    "pro": Tier(
        name="pro",
        requests_per_minute=600,
        conversions_per_month=100_000,
        hard_quota=False,
        max_file_bytes=2 * GB,
        features=frozenset({FEATURE_BULK, FEATURE_WEBHOOKS}),
        file_ttl_seconds=7 * 24 * 3600,
        max_pixels=200_000_000,
        max_pdf_pages=2_000,
        media=MediaLimits(max_duration_seconds=3 * 3600, max_frame=(1920, 1080)),
        max_document_pages=2_000,
    ),
    "enterprise": Tier(
        name="enterprise",
        requests_per_minute=600_000,  # 10,000 a second
        conversions_per_month=10_000_000,
        hard_quota=False,
        max_file_bytes=5 * GB,
        features=frozenset({FEATURE_BULK, FEATURE_WEBHOOKS}),
        file_ttl_seconds=7 * 24 * 3600,
        max_pixels=200_000_000,
        max_pdf_pages=2_000,
        media=MediaLimits(max_duration_seconds=6 * 3600, max_frame=(3840, 2160)),
        max_document_pages=10_000,
        # 10,000 requests a second over 20 items: 500 writes a second each, half of one item's limit.
        rate_shards=20,
        quota_shards=20,
    ),
}

# The widest spread of any tier: what a reader of an account's quota sums over when it cannot know which
# tier (past or present) charged it.
MAX_QUOTA_SHARDS = max(t.quota_shards for t in TIERS.values())

ACCOUNT_STATUSES = ("active", "suspended")

# docs/api.md §3: changes to keys and webhook secrets per account per minute, on top of the rate limit. Each one
# is stamped on every rate item of the cache's horizon, so this bounds what one account costs the table.
MAX_CHANGES_PER_MINUTE = 60

# Documents (docs/api.md "Documents"): an OOXML/ODF zip is refused past these before it is converted.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 100  # unpacked size over the file's own size
MAX_ZIP_UNPACKED_BYTES = 1 * GB


def tier(name: str) -> Tier:
    """The tier of that name; an unknown name (a bad row) falls back to the most restrictive tier."""
    return TIERS.get(name, TIERS["free"])
