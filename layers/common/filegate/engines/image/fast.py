"""The whole conversion in libvips for the common case: a photo (JPEG, or an 8-bit RGB/RGBA PNG) to JPEG,
WebP or AVIF, its metadata stripped (the default).

libvips decodes at a reduced scale straight from the DCT coefficients (shrink-on-load), resizes and encodes
in one streamed pass, without ever holding the full-size pixels, and the libjpeg-turbo/libwebp settings are
the ones Pillow's path uses (the same quality, Huffman optimisation, 4:2:0 chroma, WebP method, AV1 speed),
so sizes and PSNR match it. Everything else — a file carrying an ICC profile (converted to sRGB by LittleCMS in the
Pillow path), CMYK, 16-bit, palette or grey-alpha PNGs, animation, kept metadata, other targets — returns
None and goes through the Pillow pipeline (filegate.engines.image.raster), which keeps its exact semantics.
The output's size is planned by the same ``plan_output`` (same limits, same errors).
"""

from __future__ import annotations

from filegate.engines.image import vips
from filegate.engines.image.decode import TRANSPOSE, display_size
from filegate.engines.image.encode import (
    AVIF_SPEED,
    DEFAULT_QUALITY,
    WEBP_METHOD_CONVERT,
    ConversionResult,
    result,
)
from filegate.engines.image.limits import EngineLimits
from filegate.engines.image.raster import plan_output
from filegate.engines.image.readers import check_pixels
from filegate.formats.options import ImageOptions

SOURCES = frozenset({"jpg", "png"})
TARGETS = frozenset({"jpg", "webp", "avif"})
_WHITE = [255, 255, 255]
_KEEP_NO_METADATA = 0  # libvips' VIPS_FOREIGN_KEEP_NONE


def convert(data: bytes, source: str, target: str, opts: ImageOptions, limits: EngineLimits) -> ConversionResult | None:
    """The converted image, or None when this case is the Pillow pipeline's."""
    if source not in SOURCES or target not in TARGETS or not opts.strip_metadata or not vips.available():
        return None
    if source == "png" and vips.plain_png_mode(data) is None:
        return None
    pyvips = vips.pyvips()
    # fail_on="error": a truncated or corrupt file fails, as it does with Pillow, rather than being padded.
    image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")  # the header only
    if image.get_typeof("icc-profile-data") or image.format != "uchar":
        return None
    if image.interpretation not in ("srgb", "b-w") or image.bands not in (1, 3, 4):
        return None
    check_pixels(image.width, image.height, limits)
    orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    orientation = orientation if orientation in TRANSPOSE else 1
    display = display_size((image.width, image.height), orientation)
    plan = plan_output(display, opts, target, limits)
    if plan.size != display:
        width, height = plan.size
        crop = {"crop": "centre"} if plan.cover else {"size": "force"}
        image = pyvips.Image.thumbnail_buffer(data, width, height=height, fail_on="error", **crop)  # upright
    elif orientation != 1:
        image = pyvips.Image.new_from_buffer(data, "", fail_on="error").autorot()
    if image.hasalpha() and target == "jpg":
        image = image.flatten(background=_WHITE)
    quality = opts.quality or DEFAULT_QUALITY[target]
    if target == "jpg":
        out = image.jpegsave_buffer(Q=quality, optimize_coding=True, subsample_mode="on", keep=_KEEP_NO_METADATA)
    elif target == "webp":
        out = image.webpsave_buffer(Q=quality, effort=WEBP_METHOD_CONVERT, keep=_KEEP_NO_METADATA)
    else:  # AV1 in HEIF at the effort of libavif's speed in Pillow's path (effort 0..9 = 9 - speed)
        out = image.heifsave_buffer(
            Q=quality, compression="av1", effort=9 - AVIF_SPEED, subsample_mode="on", keep=_KEEP_NO_METADATA
        )
    if (image.width, image.height) != plan.size:
        raise ValueError("libvips made another size than planned")
    return result(bytes(out), target, plan.size)
