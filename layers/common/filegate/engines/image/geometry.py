"""Output geometry without pixels: the output's size from the display size and the options (the same
limits and errors on every path), and what EXIF orientation does to a size. No Pillow and no libvips here:
the libvips path (fast) plans with it before it has decoded anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from filegate.engines.image.limits import EngineLimits
from filegate.errors import ConversionFailed, InvalidParameter
from filegate.formats.options import ImageOptions, within_source

# EXIF orientations other than 1 (as stored): each turns or mirrors the stored pixels for display.
ORIENTATIONS = frozenset(range(2, 9))
_QUARTER_TURNS = frozenset({5, 6, 7, 8})  # these swap width and height
ICO_MAX_SIDE = 256
_MAX_SIDE = {"jpg": 65_500, "webp": 16_383, "gif": 65_535, "avif": 65_536, "ico": ICO_MAX_SIDE}


@dataclass(frozen=True)
class Plan:
    size: tuple[int, int]  # output size, display orientation
    cover: bool  # crop the centre to exactly `size`


def plan_output(display: tuple[int, int], opts: ImageOptions, target: str, limits: EngineLimits) -> Plan:
    w0, h0 = display
    width, height = opts.width, opts.height
    cover = False
    if width and height:
        if opts.fit == "cover":
            size, cover = (width, height), True
        else:
            s = min(width / w0, height / h0)
            size = (max(1, round(w0 * s)), max(1, round(h0 * s)))
    elif width:
        size = (width, max(1, round(h0 * width / w0)))
    elif height:
        size = (max(1, round(w0 * height / h0)), height)
    else:
        size = display
    if not opts.enlarge and (size[0] > w0 or size[1] > h0):
        kept = within_source(size, display, opts.enlarge)
        size = (max(1, round(kept[0])), max(1, round(kept[1])))
    if target == "ico" and max(size) > ICO_MAX_SIDE:
        # An icon is at most 256x256: shrink to fit, keeping the aspect ratio (and any cover crop).
        s = ICO_MAX_SIDE / max(size)
        size = (max(1, round(size[0] * s)), max(1, round(size[1] * s)))
    if size[0] * size[1] > limits.max_pixels:
        field = "width" if width else "height"
        raise InvalidParameter(
            f"{field}: the output would be {size[0]}x{size[1]} pixels, over your plan's limit of {limits.max_pixels:,}."
        )
    side = _MAX_SIDE.get(target)
    if side is not None and max(size) > side:
        raise ConversionFailed(
            f"{target} images are at most {side} pixels on a side and this one would be "
            f"{size[0]}x{size[1]}; pass width or height to shrink it."
        )
    return Plan(size, cover)


def display_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in _QUARTER_TURNS else size


def stored_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in _QUARTER_TURNS else size
