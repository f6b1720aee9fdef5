"""Real ICC v2 profiles built byte by byte (ImageCms can only make sRGB, Lab and XYZ).

Display P3, Adobe RGB (1998) and ProPhoto RGB matrix/TRC profiles with their published D50-adapted colorants
and tone curves, a linear grey profile, and a CMYK printer profile (a lut16 table from CMYK to XYZ): what
phones, cameras, scanners and print workflows embed. Their descriptions are deliberately not "sRGB".
"""

from __future__ import annotations

import struct

import numpy as np

_D50 = (0.9642, 1.0, 0.8249)
# Bradford-adapted to D50, as in the profiles Apple and Adobe ship.
_P3 = ((0.515102, 0.241182, -0.001050), (0.291965, 0.692236, 0.041885), (0.157153, 0.066582, 0.784378))
_ADOBE = ((0.609741, 0.311111, 0.019470), (0.205276, 0.625671, 0.060867), (0.149185, 0.063217, 0.744568))
_PROPHOTO = ((0.797675, 0.288040, 0.0), (0.135192, 0.711874, 0.000086), (0.031353, 0.000001, 0.825210))
# sRGB's own D50-adapted colorants: the CMYK profile's table is made through sRGB.
_SRGB = ((0.436066, 0.222488, 0.013916), (0.385147, 0.716873, 0.097076), (0.143066, 0.060608, 0.714096))
_CMYK_GRID = 9  # points per ink of the CMYK table
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


def _profile(space: bytes, tags: list[tuple[bytes, bytes]], device_class: bytes = b"mntr") -> bytes:
    table = struct.pack(">I", len(tags))
    offset = 128 + 4 + 12 * len(tags)
    body = b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + device_class + space + b"XYZ "
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


def prophoto(name: str = "ProPhoto RGB") -> bytes:
    return _rgb(name, _PROPHOTO, _gamma(1.8))


def cmyk(name: str = "Test CMYK press") -> bytes:
    """A CMYK output profile whose A2B0 table (CMYK → XYZ) is the naive ink formula through sRGB: a real
    lut16 profile (as press profiles are), simple enough to check by hand."""
    axis = np.linspace(0.0, 1.0, _CMYK_GRID)
    c, m, y, k = np.meshgrid(axis, axis, axis, axis, indexing="ij")
    rgb = np.stack([(1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)], axis=-1).reshape(-1, 3)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(_SRGB)  # rows: colorants (the matrix's columns)
    table = np.clip(np.round(xyz * 32768), 0, 65535).astype(">u2").tobytes()  # lut16 XYZ: 1.0 = 0x8000
    identity_curve = struct.pack(">HH", 0, 65535)
    lut = (
        b"mft2\0\0\0\0" + bytes([4, 3, _CMYK_GRID, 0])
        + b"".join(_s15(1.0 if row == col else 0.0) for row in range(3) for col in range(3))
        + struct.pack(">HH", 2, 2) + identity_curve * 4 + table + identity_curve * 3
    )  # fmt: skip
    tags = [(b"desc", _desc(name)), (b"wtpt", _xyz(_D50)), (b"A2B0", lut)]
    return _profile(b"CMYK", tags, device_class=b"prtr")
