"""1-bit images (scans, faxes) rewritten as CCITT Group 4 for compress (docs/pdf-tools.md): lossless, and
usually far smaller than the Group 3 fax coding or Flate they come in (Ghostscript does the same).

The pixels are decoded within the pixel limit, encoded by libtiff (through Pillow) as one G4 strip, and the new
stream is decoded again and compared with the old pixels: it replaces the old one only when every pixel is the
same and it is smaller, so a quirk of either codec can never change what a page shows.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageChops, TiffImagePlugin

from filegate.engines.pdf.flate import UNDECODABLE_IMAGE, bounded_flate

# libtiff's CCITT coder reads 0 bits as white (fax convention) where a PDF's decoded 1-bit samples are 1 for
# white (BlackIs1 false): the pixels are inverted before coding, so long white runs get the short codes.
_G4_PARMS = {"/K": -1, "/BlackIs1": False}


def reencode_bilevel(image: pikepdf.Stream, max_pixels: int) -> int:
    """Rewrite one 1-bit image (CCITT, Flate or raw) as CCITT G4 when that is smaller and decodes to the same
    pixels; 1 when it was replaced, 0 when it is kept as it is."""
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > max_pixels or not _is_bilevel(image):
        return 0
    if not _codable(image, width, height):
        return 0
    pixels = _pixels(image, width, height)
    if pixels is None:
        return 0
    coded = _group4(pixels)
    raw, filters, parms = image.read_raw_bytes(), image.get("/Filter"), image.get("/DecodeParms")
    old_filter = filters if isinstance(filters, Name | Array) else None
    old_parms = parms if isinstance(parms, Dictionary | Array) else None
    if coded is None or len(coded) >= len(raw):
        return 0
    image.write(
        coded, filter=Name.CCITTFaxDecode, decode_parms=Dictionary({**_G4_PARMS, "/Columns": width, "/Rows": height})
    )
    again = _pixels(image, width, height)
    if again is None or again.tobytes() != pixels.tobytes():  # packed 1 bit a pixel: no 8-bit copies
        image.write(raw, filter=old_filter, decode_parms=old_parms)  # not the same pixels: the original stays
        return 0
    return 1


def _is_bilevel(image: pikepdf.Stream) -> bool:
    if image.get("/BitsPerComponent") != 1 or image.get("/ImageMask", False):
        return False  # stencil masks are left alone: their Decode array decides what is painted
    return image.get("/ColorSpace") in (Name.DeviceGray, None) and "/SMask" not in image and "/Mask" not in image


def _codable(image: pikepdf.Stream, width: int, height: int) -> bool:
    """Decoded only from CCITT fax, Flate within the size the pixels take, or raw: never JBIG2 or chains."""
    filters = image.get("/Filter")
    names = list(filters) if isinstance(filters, Array) else ([] if filters is None else [filters])
    if names == [Name.CCITTFaxDecode]:
        parms = image.get("/DecodeParms")
        parms = parms[0] if isinstance(parms, Array) and len(parms) == 1 else parms
        return parms is None or isinstance(parms, Dictionary)  # G3, or a G4 that one strip may make smaller
    if names in ([], [Name.FlateDecode]):
        return bounded_flate(image, (width + 7) // 8 * height + height) is not None
    return False


def _pixels(image: pikepdf.Stream, width: int, height: int) -> Image.Image | None:
    try:
        picture = pikepdf.PdfImage(image).as_pil_image()
    except UNDECODABLE_IMAGE:
        return None
    return picture if picture.mode == "1" and picture.size == (width, height) else None


def _group4(pixels: Image.Image) -> bytes | None:
    """The pixels as one CCITT G4 strip (libtiff's TIFF around it taken off)."""
    out = io.BytesIO()
    try:
        ImageChops.invert(pixels).save(out, "TIFF", compression="group4", strip_size=1 << 30)
        tiff = Image.open(io.BytesIO(out.getvalue()), formats=["TIFF"])
        if not isinstance(tiff, TiffImagePlugin.TiffImageFile):
            return None
        offsets, counts = tiff.tag_v2[273], tiff.tag_v2[279]
    except (OSError, KeyError, ValueError):
        return None
    if len(offsets) != 1:
        return None
    return out.getvalue()[offsets[0] : offsets[0] + counts[0]]
