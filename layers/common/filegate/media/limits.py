"""Media limits per tier (API.md §2): the longest input and the largest output frame.

Kept beside the media code, keyed by tier name, rather than in tiers.Tier (to be folded in later).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaLimits:
    max_duration_seconds: int  # the longest input accepted, from its probed duration
    max_frame: tuple[int, int]  # the largest output frame (landscape; a portrait frame is held to it turned)

    def frame_fits(self, width: int, height: int) -> bool:
        long_side, short_side = max(width, height), min(width, height)
        return long_side <= self.max_frame[0] and short_side <= self.max_frame[1]

    def frame_text(self) -> str:
        return f"{self.max_frame[0]}x{self.max_frame[1]}"


MEDIA_LIMITS: dict[str, MediaLimits] = {
    "free": MediaLimits(max_duration_seconds=2 * 60, max_frame=(1280, 720)),
    "pro": MediaLimits(max_duration_seconds=30 * 60, max_frame=(1920, 1080)),
    "enterprise": MediaLimits(max_duration_seconds=30 * 60, max_frame=(3840, 2160)),
}


def media_limits(tier_name: str) -> MediaLimits:
    """The tier's media limits; an unknown tier gets the most restrictive (free)."""
    return MEDIA_LIMITS.get(tier_name, MEDIA_LIMITS["free"])
