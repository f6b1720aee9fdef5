"""What a conversion returns, and the encoder settings both paths use (Pillow's encode and libvips' fast),
so their outputs match. No Pillow and no libvips here.
"""

from __future__ import annotations

from dataclasses import dataclass

from filegate.formats.table import content_type, extension

DEFAULT_QUALITY = {"jpg": 85, "webp": 80, "avif": 60, "pdf": 85, "jxl": 85}
# libjxl effort 1..9 (default 7): 4 is several times faster for a few percent more bytes.
JXL_EFFORT = 4
COMPRESS_DEFAULT_QUALITY = {"jpg": 80, "webp": 75, "avif": 55}
# libwebp `method` 0..6 (tests/bench/bench_engine.py, 12 MP, q80): 4 took 1.1 s vs 3.6 s for 6 with 0-4%
# larger files; 2 took 0.5 s but ~12% larger on smooth content. Convert is latency-bound: 4. Compress is
# size-bound: 6.
WEBP_METHOD_CONVERT = 4
WEBP_METHOD_COMPRESS = 6
# ...except past this many pixels, where method 6 would take most of the sync budget on a shared core.
WEBP_COMPRESS_SLOW_METHOD_MAX_PIXELS = 4_000_000
# libavif speed 0..10: at 1600x1200, 6 took 0.2-0.3 s and 8 took 0.08-0.09 s for ~6% more bytes.
AVIF_SPEED = 8
PDF_MAX_PAGE_POINTS = 14_400  # the PDF spec's page size limit (200 in) for images we wrap in a PDF


@dataclass(frozen=True)
class ConversionResult:
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    unchanged: bool = False  # compress: the input could not get smaller and is returned as it was


def result(data: bytes, fmt: str, size: tuple[int, int], *, unchanged: bool = False) -> ConversionResult:
    return ConversionResult(
        data=data,
        format=fmt,
        content_type=content_type(fmt),
        extension=extension(fmt),
        width=size[0],
        height=size[1],
        unchanged=unchanged,
    )
