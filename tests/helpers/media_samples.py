"""Sample media made on the fly (no binary fixtures in the repo): real files of every input format,
photographic-ish content for benchmarks, and hostile files for the engine's defences.

Used by tests/unit/conversion and tests/bench/bench_engine.py.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from typing import Any

import pillow_heif
from PIL import Image, ImageDraw

from tests.helpers import image_samples

# Orientation 6 = "rotate 90° clockwise to display": the stored pixels are landscape, displayed portrait.
ORIENTATION_TAG = 0x0112
MAKE_TAG = 0x010F


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Photographic-ish RGB: smooth gradients plus sensor-like noise, so encoders do realistic work."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    base = Image.merge("RGB", (red, green, blue))
    noise = Image.effect_noise((width, height), 24 + seed % 7).convert("RGB")
    image = Image.blend(base, noise, 0.25)
    draw = ImageDraw.Draw(image)
    # A few hard edges (like objects in a photo) so resampling and chroma subsampling matter.
    for i in range(6):
        x0, y0 = (i * width) // 7, (i * height) // 9
        draw.ellipse((x0, y0, x0 + width // 5, y0 + height // 4), outline=(250, 240 - i * 30, 20 + i * 40), width=3)
    return image


def with_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = Image.linear_gradient("L").resize(image.size)
    rgba.putalpha(alpha)
    return rgba


def encode(image: Image.Image, fmt: str, **kw: Any) -> bytes:
    """Write `image` as `fmt` (our canonical names)."""
    buf = io.BytesIO()
    if fmt in ("heic", "heif"):
        heif = pillow_heif.from_pillow(image.convert("RGB") if image.mode not in ("RGB", "RGBA") else image)
        heif.save(buf, quality=kw.pop("quality", 80), **kw)
        data = buf.getvalue()
        if fmt == "heif":
            # Same bitstream under the generic HEIF brand (mif1) instead of heic.
            size = int.from_bytes(data[:4], "big")
            data = data[:size].replace(b"heic", b"mif1") + data[size:]
        return data
    pil = {"jpg": "JPEG", "tiff": "TIFF", "ico": "ICO", "pdf": "PDF"}.get(fmt, fmt.upper())
    if fmt in ("jpg", "bmp", "pdf") and image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGB")
    if fmt == "ico":
        kw.setdefault("sizes", [(min(image.width, 256), min(image.height, 256))])
    image.save(buf, format=pil, **kw)
    return buf.getvalue()


def sample(fmt: str, width: int = 64, height: int = 48) -> bytes:
    """A small real file of input format `fmt`."""
    image = photo(width, height)
    if fmt in image_samples.FORMATS:
        return image_samples.make(fmt, image)
    if fmt == "pdf":
        return pdf_document(pages=2, size=(width, height))
    if fmt in ("png", "webp", "tiff", "ico", "avif", "gif"):
        return encode(with_alpha(image), fmt)
    return encode(image, fmt)


def jpeg_with_exif(width: int, height: int, orientation: int = 6, make: str = "FileGateCam") -> bytes:
    """A JPEG whose stored pixels are width x height, with an EXIF orientation, a camera make and GPS."""
    image = photo(width, height)
    # Mark the stored top-left corner red so orientation can be checked on the output.
    ImageDraw.Draw(image).rectangle((0, 0, width // 4, height // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    exif[MAKE_TAG] = make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS IFD: the kind of thing strip_metadata must remove
    return encode(image, "jpg", exif=exif.tobytes(), icc_profile=srgb_icc(), quality=90)


@functools.cache  # LittleCMS stamps a new profile with the current time: one profile, the same bytes each call
def srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def animated(fmt: str, frames: int = 4, size: tuple[int, int] = (40, 30)) -> bytes:
    images = []
    for i in range(frames):
        frame = Image.new("RGB", size, (60 * i % 256, 255 - 50 * i % 256, 90))
        ImageDraw.Draw(frame).rectangle((i * 5, 5, i * 5 + 10, 20), fill=(255, 255, 255))
        images.append(frame)
    buf = io.BytesIO()
    images[0].save(
        buf,
        format=fmt.upper(),
        save_all=True,
        append_images=images[1:],
        duration=[80 + 10 * i for i in range(frames)],
        loop=0,
    )
    return buf.getvalue()


def pdf_document(pages: int = 2, size: tuple[int, int] = (200, 100)) -> bytes:
    """A PDF with `pages` pages of `size` points (Pillow writes one image per page at 72 dpi)."""
    images = []
    for i in range(pages):
        page = Image.new("RGB", size, (255, 255, 255))
        ImageDraw.Draw(page).rectangle((10, 10, size[0] // 2, size[1] // 2), fill=(20 * i % 256, 0, 200))
        images.append(page)
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return buf.getvalue()


def pdf_raw(page_boxes: list[tuple[float, float]]) -> bytes:
    """A minimal hand-written PDF with empty pages of the given MediaBox sizes (points)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + i} 0 R" for i in range(len(page_boxes)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(page_boxes)} >>".encode())
    for w, h in page_boxes:
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height pixels (1-bit greyscale)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def gif_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny GIF whose logical screen and frame claim width x height pixels."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame + b"\x3b"


def svg() -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


def zip_file() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hello")
    return buf.getvalue()
