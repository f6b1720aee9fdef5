"""Readers for formats Pillow has no plugin for: PAM (netpbm P7) and camera RAW (LibRaw through rawpy).

Both check the declared dimensions against the pixel limit before decoding anything.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image

from filegate.engines.image.limits import EngineLimits, check_pixels
from filegate.errors import ConversionFailed

_PAM_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_PAM_HEADER_MAX = 1024


def read_pam(data: bytes, limits: EngineLimits) -> Image.Image:
    """A netpbm PAM: a text header (WIDTH, HEIGHT, DEPTH 1-4, MAXVAL up to 65535) then raw samples."""
    end = data.find(b"ENDHDR\n", 0, _PAM_HEADER_MAX)
    if not data.startswith(b"P7\n") or end < 0:
        raise ConversionFailed("The PAM header is malformed.")
    fields: dict[str, str] = {}
    for line in data[3:end].decode("ascii", "replace").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            fields[words[0].upper()] = words[1]
    try:
        width, height = int(fields["WIDTH"]), int(fields["HEIGHT"])
        depth, maxval = int(fields["DEPTH"]), int(fields["MAXVAL"])
    except (KeyError, ValueError) as exc:
        raise ConversionFailed("The PAM header lacks WIDTH, HEIGHT, DEPTH or MAXVAL.") from exc
    if depth not in _PAM_MODES or not 0 < maxval <= 65535:
        raise ConversionFailed("The PAM has an unsupported DEPTH or MAXVAL.")
    check_pixels(width, height, limits)
    sample_bytes = 1 if maxval < 256 else 2
    body = data[end + len(b"ENDHDR\n") :]
    needed = width * height * depth * sample_bytes
    if len(body) < needed:
        raise ConversionFailed("The PAM is truncated.")
    mode = _PAM_MODES[depth]
    if sample_bytes == 1 and maxval == 255:
        return Image.frombytes(mode, (width, height), body[:needed])
    # 16-bit (big-endian) or an unusual MAXVAL: scale every sample to 0..255.
    samples = memoryview(body[:needed]).cast("B")
    scale = 255 / maxval
    values: Iterator[int] = iter(samples)
    if sample_bytes == 2:
        values = (int.from_bytes(samples[i : i + 2], "big") for i in range(0, needed, 2))
    return Image.frombytes(mode, (width, height), bytes(min(255, round(v * scale)) for v in values))


def raw_size(data: bytes) -> tuple[int, int]:
    """A camera RAW's output size (after LibRaw's orientation), without demosaicing."""
    import rawpy

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            width, height = raw.sizes.iwidth, raw.sizes.iheight
            return (height, width) if raw.sizes.flip in (5, 6) else (width, height)
    except (rawpy.LibRawError, ValueError) as exc:
        raise ConversionFailed("The RAW file could not be decoded: corrupt, or from an unsupported camera.") from exc


def read_raw(data: bytes, limits: EngineLimits) -> Image.Image:
    """A camera RAW (DNG) demosaiced by LibRaw with the camera's white balance, as 8-bit sRGB, upright."""
    import rawpy

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            check_pixels(raw.sizes.width, raw.sizes.height, limits)
            rgb = raw.postprocess(use_camera_wb=True, output_bps=8, output_color=rawpy.ColorSpace.sRGB)
    except (rawpy.LibRawError, ValueError) as exc:
        raise ConversionFailed(
            "The RAW file could not be decoded: it is corrupt or from an unsupported camera."
        ) from exc
    return Image.fromarray(rgb)
