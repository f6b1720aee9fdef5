"""Colour management: pixels leave the engine in sRGB unless their profile goes with them.

A file's ICC profile says what its numbers mean. Dropping a Display P3, Adobe RGB, CMYK or grey profile
without converting the pixels shifts every colour (a P3 photo turns dull), so whenever the profile is not
kept, the pixels are converted to sRGB first through LittleCMS (Pillow's ImageCms). A transform is built
once per (profile, mode) and reused, and applied in place; ImageCms itself is imported only when a file
carries a profile. A profile whose transform is the identity (any sRGB profile, whatever its name) is
recognised by what it does to a probe of colours, not by its description.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Literal

from PIL import Image

if TYPE_CHECKING:
    from PIL._imagingcms import CmsProfile
    from PIL.ImageCms import ImageCmsTransform

# The profile's colour space decides which pixel modes it can describe.
_SPACE_MODES = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",), "GRAY": ("L",)}
# A transform that moves no probe colour by more than this is treated as sRGB (rounding noise only).
_IDENTITY_TOLERANCE = 1
_NOT_APPLICABLE: Literal["n/a"] = "n/a"
# What a profile does to pixels on their way to sRGB (profile_effect).
ProfileEffect = Literal["identity", "converts", "unusable"]


def to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """`im` in sRGB: converted through `icc` when it is not already sRGB, CMYK without a profile by the
    naive formula. May modify `im` in place (the caller owns it); the result has no profile attached."""
    if im.mode == "LA":
        grey, alpha = im.split()
        converted = to_srgb(grey, icc)
        return Image.merge("RGBA", (*converted.split(), alpha)) if converted.mode == "RGB" else im
    if icc and im.mode in ("P", "PA") and _transform(icc, "RGB") not in (None, _NOT_APPLICABLE):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        transform = _transform(icc, im.mode)
        if transform is None:
            return im
        if transform != _NOT_APPLICABLE:
            from PIL import ImageCms

            if transform.output_mode == im.mode:
                im.load()
                if getattr(im, "readonly", 0):  # pixels borrowed from a buffer (the libvips decoder)
                    im = im.copy()
                ImageCms.applyTransform(im, transform, inPlace=True)
                return im
            out = ImageCms.applyTransform(im, transform)
            if out is not None:
                return _grey_if_neutral(out) if im.mode == "L" else out
    return im.convert("RGB") if im.mode == "CMYK" else im


def profile_effect(icc: bytes, mode: str) -> ProfileEffect:
    """What `to_srgb` does with `icc` for pixels of `mode` ("L", "RGB", "RGBA", "CMYK"): nothing, as it is
    sRGB already ("identity"); a conversion through it ("converts"); or ignores it, as it is unreadable or
    describes another colour space ("unusable"). Another colour engine (libvips, fast.py) decides by this."""
    transform = _transform(icc, mode)
    if transform is None:
        return "identity"
    return "unusable" if transform == _NOT_APPLICABLE else "converts"


def _grey_if_neutral(rgb: Image.Image) -> Image.Image:
    """A grey profile maps onto the neutral axis: keep one channel rather than triple the pixels."""
    return rgb.getchannel("G")


@functools.lru_cache(maxsize=32)
def _transform(icc: bytes, mode: str) -> ImageCmsTransform | Literal["n/a"] | None:
    """The cached profile → sRGB transform for `mode`; None when it is the identity (already sRGB);
    "n/a" when the profile is unreadable or describes another colour space than the pixels."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip().upper()
        if mode not in _SPACE_MODES.get(space, ()):
            return _NOT_APPLICABLE
        out_mode = "RGBA" if mode == "RGBA" else "RGB"
        transform = ImageCms.buildTransform(source, _srgb_profile(), mode, out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, AttributeError):
        return _NOT_APPLICABLE
    return None if _is_identity(transform, mode) else transform


@functools.cache
def _srgb_profile() -> CmsProfile:
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


@functools.cache
def _probe(mode: str) -> Image.Image:
    """Every grey level, and a 6x6x6 cube of colours (saturated ones move most under a gamut change)."""
    if mode == "L":
        return Image.frombytes("L", (256, 1), bytes(range(256)))
    levels = (0, 51, 102, 153, 204, 255)
    cube = [(r, g, b) for r in levels for g in levels for b in levels] + [(v, v, v) for v in range(256)]
    rgb = Image.new("RGB", (len(cube), 1))
    rgb.putdata(cube)
    return rgb.convert("RGBA") if mode == "RGBA" else rgb


def _is_identity(transform: ImageCmsTransform, mode: str) -> bool:
    if mode == "CMYK":
        return False
    from PIL import ImageChops, ImageCms

    probe = _probe(mode)
    out = ImageCms.applyTransform(probe, transform)
    if out is None:
        return False
    bands = ImageChops.difference(probe.convert("RGB"), out.convert("RGB")).getextrema()
    return all(isinstance(band, tuple) and band[1] <= _IDENTITY_TOLERANCE for band in bands)
