"""libvips where it beats Pillow: decoding 8-bit RGB/RGBA PNGs (libspng unfilters with SIMD: a 12 MP
photo PNG decodes in 0.67 s against Pillow's 3.2 s on this machine; tests/bench/bench_engine.py png-jpeg).

Only the plain case takes this path — 8-bit truecolour, no tRNS, not animated — so palette, grey, 16-bit
and APNG files keep Pillow's exact semantics. The header's dimensions are checked against the pixel limit
before libvips sees the data. The whole conversion of common photos (filegate.engines.image.fast) runs in
libvips too.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from filegate.engines.image.limits import EngineLimits, check_pixels

if TYPE_CHECKING:
    from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TRUECOLOUR = {2: "RGB", 6: "RGBA"}
_HEADER_SCAN_LIMIT = 64 * 1024  # chunks before the first IDAT we are willing to walk
_METADATA = {"icc-profile-data": "icc_profile", "exif-data": "exif", "xmp-data": "xmp"}


def plain_png_mode(data: bytes) -> str | None:
    """ "RGB" or "RGBA" when `data` is an 8-bit truecolour PNG without tRNS or animation, else None."""
    if not data.startswith(_SIGNATURE) or len(data) < 33 or data[12:16] != b"IHDR":
        return None
    depth, colour = data[24], data[25]
    if depth != 8 or colour not in _TRUECOLOUR:
        return None
    offset = 8
    while offset + 8 <= min(len(data), _HEADER_SCAN_LIMIT):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"IDAT":
            return _TRUECOLOUR[colour]
        if kind in (b"tRNS", b"acTL"):
            return None
        offset += 12 + length
    return None


# libvips' thread pool does not survive fork(): a child forked from a process in which libvips has already run
# work hangs in it. A process that only imported it forks fine (measured), so what matters is whether work ran.
_ran_here = False
_disabled = False


def _load() -> Any:
    """pyvips with its operation cache off (a Lambda keeps nothing between requests that it would reuse), or
    None where libvips is not installed (Pillow then does everything). Loaded with the engine, not inside the
    first conversion."""
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    pyvips.cache_set_max(0)
    return pyvips


_PYVIPS = _load()


def has_run() -> bool:
    """Whether libvips has done work in this process (a forked child then must not use it)."""
    return _ran_here


def disable_after_fork(parent_ran: bool) -> None:
    """In a forked child: when the parent had already run libvips, the child converts with Pillow only."""
    global _disabled
    _disabled = parent_ran


def available() -> bool:
    return not _disabled and _PYVIPS is not None


def pyvips() -> Any:
    """The pyvips module, for work about to run (only after available() said yes)."""
    global _ran_here
    _ran_here = True
    return _PYVIPS


def decode_png(data: bytes, mode: str, limits: EngineLimits) -> Image.Image:
    from PIL import Image  # the Pillow pipeline's decoder (decode.open_image): Pillow is loaded already

    width, height = struct.unpack(">II", data[16:24])
    check_pixels(width, height, limits)
    # fail_on="error": a truncated or corrupt file fails, as it does with Pillow, rather than padding it.
    image = pyvips().Image.new_from_buffer(data, "", access="sequential", fail_on="error")
    if (image.width, image.height, image.bands, image.format) != (width, height, len(mode), "uchar"):
        raise ValueError("libvips read another image than the PNG header describes")
    pixels = image.write_to_memory()
    decoded = Image.frombuffer(mode, (width, height), pixels, "raw", mode, 0, 1)
    fields = set(image.get_fields())
    for vips_name, info_name in _METADATA.items():
        if vips_name in fields:
            decoded.info[info_name] = bytes(image.get(vips_name))
    decoded.format = "PNG"  # what the rest of the engine keys on, as if Pillow had opened it
    return decoded
