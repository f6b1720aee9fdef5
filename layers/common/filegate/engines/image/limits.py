"""What one image conversion may decode and produce, from the caller's tier."""

from __future__ import annotations

from dataclasses import dataclass

from filegate.errors import ConversionFailed
from filegate.tiers import Tier

# A rendered PDF page never exceeds this many pixels, whatever its page size or the requested size.
PDF_MAX_RENDER_PIXELS = 25_000_000
MAX_FRAMES = 1_000  # animated GIF/WebP


@dataclass(frozen=True)
class EngineLimits:
    max_pixels: int  # decoded pixels of one image (header-checked before decoding) and of an output
    max_pdf_pages: int
    max_render_pixels: int = PDF_MAX_RENDER_PIXELS
    max_frames: int = MAX_FRAMES

    @classmethod
    def for_tier(cls, tier: Tier) -> EngineLimits:
        return cls(
            max_pixels=tier.max_pixels,
            max_pdf_pages=tier.max_pdf_pages,
            max_render_pixels=min(PDF_MAX_RENDER_PIXELS, tier.max_pixels),
        )


def check_pixels(width: int, height: int, limits: EngineLimits) -> None:
    if width <= 0 or height <= 0:
        raise ConversionFailed("The image has no pixels.")
    if width * height > limits.max_pixels:
        raise ConversionFailed(f"The image is {width}x{height} pixels; your plan allows at most {limits.max_pixels:,}.")
