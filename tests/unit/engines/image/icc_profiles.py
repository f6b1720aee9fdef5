"""Real ICC v2 matrix/TRC profiles built byte by byte (ImageCms can only make sRGB, Lab and XYZ).

Display P3 and Adobe RGB (1998) with their published D50-adapted colorants and tone curves, and a linear
grey profile: what phones, cameras and scanners embed. Their descriptions are deliberately not "sRGB".
"""

from __future__ import annotations

import struct

_D50 = (0.9642, 1.0, 0.8249)
# Bradford-adapted to D50, as in the profiles Apple and Adobe ship.
_P3 = ((0.515102, 0.241182, -0.001050), (0.291965, 0.692236, 0.041885), (0.157153, 0.066582, 0.784378))
_ADOBE = ((0.609741, 0.311111, 0.019470), (0.205276, 0.625671, 0.060867), (0.149185, 0.063217, 0.744568))
# sRGB's piecewise curve (IEC 61966-2-1) as an ICC parametric curve of type 3: g, a, b, c, d.
_SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _gamma(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _parametric(params: tuple[float, ...]) -> bytes:
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)


def _desc(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\0" * 4
        + b"\0" * 4
        + b"\0" * 3
        + b"\0" * 67
    )


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table = struct.pack(">I", len(tags))
    offset = 128 + 4 + 12 * len(tags)
    body = b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr" + space + b"XYZ "
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15(v) for v in _D50)
        + b"\0" * 48
    )  # fmt: skip
    assert len(header) == 128
    return header + table + body


def _rgb(name: str, colorants: tuple[tuple[float, float, float], ...], curve: bytes) -> bytes:
    red, green, blue = colorants
    return _profile(
        b"RGB ",
        [
            (b"desc", _desc(name)),
            (b"wtpt", _xyz(_D50)),
            (b"rXYZ", _xyz(red)),
            (b"gXYZ", _xyz(green)),
            (b"bXYZ", _xyz(blue)),
            (b"rTRC", curve),
            (b"gTRC", curve),
            (b"bTRC", curve),
        ],
    )


def display_p3(name: str = "Display P3") -> bytes:
    return _rgb(name, _P3, _parametric(_SRGB_CURVE))


def adobe_rgb(name: str = "Adobe RGB (1998)") -> bytes:
    return _rgb(name, _ADOBE, _gamma(563 / 256))


def linear_grey(name: str = "Linear Grey") -> bytes:
    return _profile(b"GRAY", [(b"desc", _desc(name)), (b"wtpt", _xyz(_D50)), (b"kTRC", _gamma(1.0))])
