"""The whole conversion in libvips for the common case: a photo (JPEG, or an 8-bit RGB/RGBA PNG) to JPEG,
WebP or AVIF, its metadata stripped (the default).

libvips decodes at a reduced scale straight from the DCT coefficients (shrink-on-load), resizes and encodes
in one streamed pass, without ever holding the full-size pixels (nor loading Pillow), and the settings are
the ones Pillow's path uses (the same quality, Huffman optimisation, 4:2:0 chroma, WebP method, AV1 speed),
so sizes and PSNR match it. A photo with an ICC profile (Display P3, Adobe RGB, a grey or a CMYK JPEG's
profile: what phones and cameras send) is converted to sRGB inside libvips, after the shrink, through
LittleCMS with the Pillow path's intent, and only when that path's rule (colour.profile_effect) says the
profile converts; so both paths give the same colours (tests/unit/engines/image/test_conversion_fast_icc.py).
A HEIC/HEIF photo (an iPhone's, in Display P3) is decoded by libheif through pillow-heif, as in the Pillow
path (the libvips build we ship has libheif without an HEVC decoder), and its pixels are handed to libvips
without a copy for the rest: resize, colour, encode.
Everything else — CMYK without a usable profile (Pillow's naive formula), 16-bit, palette or grey-alpha PNGs,
animation, kept metadata, other targets — returns None and goes through the Pillow pipeline
(filegate.engines.image.raster), which keeps its exact semantics. The output's size is planned by the same
``plan_output`` (same limits, same errors).
"""

from __future__ import annotations

from typing import Any

from filegate.engines.image import vips
from filegate.engines.image.geometry import ORIENTATIONS, display_size, plan_output
from filegate.engines.image.limits import EngineLimits, check_pixels
from filegate.engines.image.output import AVIF_SPEED, DEFAULT_QUALITY, WEBP_METHOD_CONVERT, ConversionResult, result
from filegate.formats.options import ImageOptions

HEIF_SOURCES = frozenset({"heic", "heif"})
SOURCES = frozenset({"jpg", "png"}) | HEIF_SOURCES
TARGETS = frozenset({"jpg", "webp", "avif"})
_WHITE = [255, 255, 255]
_KEEP_NO_METADATA = 0  # libvips' VIPS_FOREIGN_KEEP_NONE
# (bands, libvips interpretation) of the 8-bit images this path takes, as the Pillow mode colour rules know.
_MODES = {(1, "b-w"): "L", (3, "srgb"): "RGB", (4, "srgb"): "RGBA", (4, "cmyk"): "CMYK"}
# ImageCms.buildTransform's default, which the Pillow path uses (libvips' own default is relative).
_INTENT = "perceptual"
_GREEN = 1  # a grey profile's conversion lands on the neutral axis: one channel holds it (colour.py)


def convert(data: bytes, source: str, target: str, opts: ImageOptions, limits: EngineLimits) -> ConversionResult | None:
    """The converted image, or None when this case is the Pillow pipeline's."""
    prepared = prepare(data, source, target, opts, limits)
    if prepared is None:
        return None
    image, size = prepared
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
    if (image.width, image.height) != size:
        raise ValueError("libvips made another size than planned")
    return result(bytes(out), target, size)


def prepare(
    data: bytes, source: str, target: str, opts: ImageOptions, limits: EngineLimits
) -> tuple[Any, tuple[int, int]] | None:
    """The libvips image about to be encoded (resized, upright, its colours in sRGB as the Pillow path makes
    them, alpha kept) and its planned size; None when this case is the Pillow pipeline's."""
    if source not in SOURCES or target not in TARGETS or not opts.strip_metadata or not vips.available():
        return None
    if source == "png" and vips.plain_png_mode(data) is None:
        return None
    pyvips = vips.pyvips()
    if source in HEIF_SOURCES:
        image = _heif_pixels(pyvips, data, limits)
        if image is None:
            return None
    else:
        # fail_on="error": a truncated or corrupt file fails, as it does with Pillow, rather than being padded.
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")  # the header only
    mode = _MODES.get((image.bands, image.interpretation)) if image.format == "uchar" else None
    converts = mode is not None and _converts_to_srgb(image, mode)
    if mode is None or converts is None:
        return None
    check_pixels(image.width, image.height, limits)
    orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    orientation = orientation if orientation in ORIENTATIONS else 1
    display = display_size((image.width, image.height), orientation)
    plan = plan_output(display, opts, target, limits)
    profile = {"export_profile": "srgb", "intent": _INTENT} if converts else {}
    if plan.size != display:
        width, height = plan.size
        crop = {"crop": "centre"} if plan.cover else {"size": "force"}
        # Upright, and converted after the shrink (LittleCMS then works on the small image only).
        if source in HEIF_SOURCES:  # decoded already (libheif applied the file's rotation and mirroring)
            image = image.thumbnail_image(width, height=height, **crop, **profile)
        else:
            image = pyvips.Image.thumbnail_buffer(data, width, height=height, fail_on="error", **crop, **profile)
    else:
        if orientation != 1:
            image = pyvips.Image.new_from_buffer(data, "", fail_on="error").autorot()
        if converts:
            image = image.icc_transform("srgb", embedded=True, intent=_INTENT)
    if converts and mode == "L":
        image = image.extract_band(_GREEN).copy(interpretation="b-w")
    return image, plan.size


def _converts_to_srgb(image: Any, mode: str) -> bool | None:
    """Whether the pixels go through their profile to sRGB (as colour.to_srgb decides: an sRGB profile
    leaves them alone, an unusable one is ignored); None when only the Pillow path can convert them (CMYK
    without a usable profile: its naive formula)."""
    icc = bytes(image.get("icc-profile-data")) if image.get_typeof("icc-profile-data") else b""
    if not icc:
        return None if mode == "CMYK" else False
    # Pillow (ImageCms) is loaded only for a file that carries a profile: this path needs it for nothing else.
    from filegate.engines.image import colour

    effect = colour.profile_effect(icc, mode)
    if effect == "converts":
        return True
    return None if mode == "CMYK" else False


def _heif_pixels(pyvips: Any, data: bytes, limits: EngineLimits) -> Any | None:
    """A HEIC/HEIF file's primary image decoded by pillow-heif (as decode.py's Pillow plugin does it: 8-bit,
    upright, the EXIF orientation reset) as a libvips image carrying the file's ICC profile; None when only the
    Pillow path takes it (grey, premultiplied alpha). The pixel limit is checked before anything is decoded."""
    import pillow_heif  # loads Pillow too, only for a HEIF input

    heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)  # the header: decoding waits for .data
    if heif.mode not in ("RGB", "RGBA") or heif.premultiplied_alpha:
        return None
    width, height = heif.size
    check_pixels(width, height, limits)
    bands, stride = len(heif.mode), heif.stride
    pixels = heif.data
    if stride != width * bands:  # rows padded for alignment: libvips wants them packed
        pixels = b"".join(pixels[row * stride : row * stride + width * bands] for row in range(height))
    image = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar").copy(interpretation="srgb")
    icc = heif.info.get("icc_profile")
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    return image
