"""Compress a PDF (docs/pdf-tools.md): embedded photos re-encoded by the image engine's JPEG encoder at
`quality` and downsampled to at most `dpi` where they are drawn (in their own colour space), 1-bit images as
lossless CCITT G4 (bilevel), identical streams merged into one, unused objects, applications' private data and
non-PDF/A output intents dropped (docmeta), Flate at zlib's highest level (flate), object streams on. Text,
vectors, links, outlines, form fields, page count and page sizes are untouched: image streams are rewritten only
when that makes them smaller, other streams only re-deflated.

A decompression bomb is never inflated: a stream is decoded only when its filters promise a bounded size and
zlib, asked for at most that, stops there (``bounded_flate``).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image

from filegate.engines.image.decode import NO_META
from filegate.engines.image.encode import encode
from filegate.engines.pdf.bilevel import reencode_bilevel
from filegate.engines.pdf.docmeta import slim_document_data
from filegate.engines.pdf.document import save
from filegate.engines.pdf.flate import (
    UNDECODABLE_IMAGE,
    bounded_flate,
    inflated,
    max_flate_level,
    recompress_flate,
)

DEFAULT_QUALITY = 75
DEFAULT_DPI = 150
# An image is re-encoded only when the result is at least this much smaller: a few percent is not worth a
# second generation of JPEG loss.
MIN_GAIN = 0.9
# Below this many distinct colours an image is line art or a screenshot: JPEG would smear it; kept lossless.
PHOTO_MIN_COLOURS = 256
# Content streams read to find where images are drawn: larger ones are not decoded (the images they draw are
# judged against their page instead).
MAX_CONTENT_BYTES = 64 * 1024 * 1024
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class CompressSettings:
    quality: int = DEFAULT_QUALITY
    dpi: int = DEFAULT_DPI
    max_pixels: int = 50_000_000


def compress_pdf(pdf: pikepdf.Pdf, settings: CompressSettings) -> int:
    """Shrink `pdf` in place; how many images were re-encoded (saving with object streams is the caller's)."""
    drop_private_data(pdf)
    slim_document_data(pdf)
    merge_duplicate_streams(pdf)
    drop_unused_resources(pdf)
    drawn = drawn_sizes(pdf)
    reencoded = 0
    for obj in list(pdf.objects):
        if isinstance(obj, pikepdf.Stream) and _is_image(obj) and obj.objgen in drawn:
            reencoded += reencode_image(obj, drawn[obj.objgen], settings) or reencode_bilevel(obj, settings.max_pixels)
    recompress_flate(pdf)
    return reencoded


def save_compressed(pdf: pikepdf.Pdf, *, password: str | None) -> bytes:
    """The compressed PDF's bytes: as every PDF tool saves (object streams), with what qpdf deflates itself
    (object streams, streams that were stored uncompressed) at zlib's highest level."""
    with max_flate_level():
        return save(pdf, password=password)


# ---------------------------------------------------------------- duplicates


def merge_duplicate_streams(pdf: pikepdf.Pdf) -> int:
    """Point every resource at one copy of each identical image, form or font stream (same dictionary, same
    bytes); the copies are then unused and not written. How many references moved."""
    canonical: dict[bytes, pikepdf.Object] = {}
    replacement: dict[tuple[int, int], pikepdf.Object] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.get("/Type") == Name.Metadata:
            continue
        key = _stream_key(obj)
        first = canonical.setdefault(key, obj)
        if first.objgen != obj.objgen:
            replacement[obj.objgen] = first
    if not replacement:
        return 0
    moved = 0
    for obj in pdf.objects:  # resource dictionaries name streams: /XObject, /Font (its /FontFile*), /Pattern
        if isinstance(obj, Dictionary | pikepdf.Stream):
            moved += _repoint(obj, replacement, 0)
    return moved


def _stream_key(stream: pikepdf.Stream) -> bytes:
    digest = hashlib.sha256(stream.read_raw_bytes())
    entries = sorted((str(k), repr(v)) for k, v in stream.stream_dict.items() if k != "/Length")
    digest.update(repr(entries).encode())
    return digest.digest()


def _repoint(obj: pikepdf.Object, replacement: dict[tuple[int, int], pikepdf.Object], depth: int) -> int:
    moved = 0
    for key in list(obj.keys()):
        value = obj.get(key)
        if isinstance(value, pikepdf.Stream) and value.objgen in replacement:
            obj[key] = replacement[value.objgen]
            moved += 1
        elif isinstance(value, Dictionary) and not value.is_indirect and depth < 4:
            moved += _repoint(value, replacement, depth + 1)
    return moved


def drop_private_data(pdf: pikepdf.Pdf) -> None:
    """What no viewer draws: the producing application's private data (/PieceInfo: an Illustrator file rides
    along in it, often larger than the PDF) and page thumbnails (/Thumb: viewers make their own)."""
    if Name.PieceInfo in pdf.Root:
        del pdf.Root[Name.PieceInfo]
    for page in pdf.pages:
        for key in (Name.PieceInfo, Name.Thumb):
            if key in page.obj:
                del page.obj[key]


def drop_unused_resources(pdf: pikepdf.Pdf) -> None:
    """Resources a page lists but its content never names are dropped (then not written), on every page whose
    content can be read within MAX_CONTENT_BYTES."""
    for page in pdf.pages:
        if _readable_content(page):
            page.remove_unreferenced_resources()


def _readable_content(page: pikepdf.Page) -> bool:
    contents = page.obj.get("/Contents")
    streams = list(contents) if isinstance(contents, Array) else [contents]
    if sum(int(s.get("/Length", 0)) for s in streams if isinstance(s, pikepdf.Stream)) > MAX_CONTENT_BYTES // 100:
        return False
    return all(isinstance(s, pikepdf.Stream) and bounded_flate(s, MAX_CONTENT_BYTES) is not None for s in streams)


# ---------------------------------------------------------------- where images are drawn


def drawn_sizes(pdf: pikepdf.Pdf) -> dict[tuple[int, int], tuple[float, float]]:
    """For each image drawn by a page's content, the largest size (points) it is drawn at; an image drawn
    only inside a form or in a stream too large to read counts as drawn across its whole page."""
    sizes: dict[tuple[int, int], tuple[float, float]] = {}
    for page in pdf.pages:
        images = _page_images(page)
        if not images:
            continue
        box = page.mediabox
        page_size = (abs(float(box[2]) - float(box[0])), abs(float(box[3]) - float(box[1])))
        found = _images_in_content(page, images)
        for objgen in images.values():
            width, height = found.get(objgen, page_size)
            old = sizes.get(objgen, (0.0, 0.0))
            sizes[objgen] = (max(old[0], width), max(old[1], height))
    return sizes


def _page_images(page: pikepdf.Page) -> dict[str, tuple[int, int]]:
    """The page's images by resource name, and the images of its forms (named by their objgen)."""
    images: dict[str, tuple[int, int]] = {}
    pending = [page.obj.get("/Resources")]
    seen: set[tuple[int, int]] = set()
    while pending:
        resources = pending.pop()
        xobjects = resources.get("/XObject") if isinstance(resources, Dictionary) else None
        if not isinstance(xobjects, Dictionary):
            continue
        for name, xobject in xobjects.items():
            if not isinstance(xobject, pikepdf.Stream) or xobject.objgen in seen:
                continue
            seen.add(xobject.objgen)
            if _is_image(xobject):
                images.setdefault(name, xobject.objgen)
                images.setdefault(f"form:{xobject.objgen}", xobject.objgen)
            elif xobject.get("/Subtype") == Name.Form:
                pending.append(xobject.get("/Resources"))
    return images


def _images_in_content(
    page: pikepdf.Page, images: dict[str, tuple[int, int]]
) -> dict[tuple[int, int], tuple[float, float]]:
    """The size (points) each named image is drawn at by the page's own content stream (its CTM at `Do`)."""
    if not _readable_content(page):
        return {}
    found: dict[tuple[int, int], tuple[float, float]] = {}
    ctm, stack = _IDENTITY, []
    try:
        instructions = pikepdf.parse_content_stream(page, "q Q cm Do")
    except pikepdf.PdfError:
        return {}
    for instruction in instructions:
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            continue  # an inline image: drawn in place, never a named image
        operands, op = instruction.operands, str(instruction.operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else _IDENTITY
        elif op == "cm" and len(operands) == 6:
            ctm = _multiply(tuple(float(v) for v in operands), ctm)  # type: ignore[arg-type]
        elif op == "Do" and operands and str(operands[0]) in images:
            a, b, c, d = ctm[:4]
            size = (math.hypot(a, b), math.hypot(c, d))
            objgen = images[str(operands[0])]
            old = found.get(objgen, (0.0, 0.0))
            found[objgen] = (max(old[0], size[0]), max(old[1], size[1]))
    return found


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


# ---------------------------------------------------------------- images


def _is_image(obj: pikepdf.Object) -> bool:
    return isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == Name.Image


def reencode_image(image: pikepdf.Stream, drawn: tuple[float, float], settings: CompressSettings) -> int:
    """Replace one image's stream with a smaller JPEG at no more than `settings.dpi` where it is drawn; 1 when
    it was replaced, 0 when it is kept as it is (not a photo, a mask, an unusual colour space, no gain)."""
    picture = _decoded(image, settings.max_pixels)
    if picture is None:
        return 0
    width, height = picture.size
    scale = min(1.0, _scale_for(width, drawn[0], settings.dpi), _scale_for(height, drawn[1], settings.dpi))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # Bicubic (as Ghostscript): a little softer than Lanczos, and its JPEG a few percent smaller
        picture = picture.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    data = encode(picture, "jpg", settings.quality, NO_META, for_compress=True)  # progressive: smaller
    if len(data) >= MIN_GAIN * len(image.read_raw_bytes()):
        return 0
    image.write(data, filter=Name.DCTDecode)
    image.Width, image.Height = picture.size
    image.BitsPerComponent = 8  # the colour space stays: the samples are the same components, fewer of them
    for key in ("/DecodeParms", "/Decode", "/Interpolate"):
        if key in image:
            del image[key]
    return 1


def _scale_for(pixels: int, points: float, dpi: int) -> float:
    """The factor that brings `pixels` spread over `points` down to `dpi`."""
    if points <= 0:
        return 1.0
    return min(1.0, dpi * points / 72 / pixels)


def _decoded(image: pikepdf.Stream, max_pixels: int) -> Image.Image | None:
    """The image as 8-bit samples of its own colour space (grey, RGB or CMYK: device, calibrated, ICC-based
    or a one-colour separation) when it is one we re-encode: a photograph within the pixel limit. A soft mask
    stays as it is beside the new samples; a colour-key /Mask (exact colours JPEG would miss) is not re-encoded."""
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0 or width * height > max_pixels or image.get("/ImageMask", False):
        return None
    if "/Mask" in image or "/Decode" in image or image.get("/BitsPerComponent") != 8:
        return None
    components = _components(image.get("/ColorSpace"))
    if components is None:
        return None
    filters = image.get("/Filter")
    names = list(filters) if isinstance(filters, Array) else [filters]
    is_jpeg = names in ([Name.DCTDecode], [Name.FlateDecode, Name.DCTDecode])
    # Bounds: what raw pixels take, even with a row of PNG predictor bytes each.
    cap = width * height * 4 + height
    if not is_jpeg and bounded_flate(image, cap) is None:
        return None  # another filter, or a stream that inflates past what its size allows: a bomb
    try:
        if names == [Name.FlateDecode, Name.DCTDecode]:
            picture = _zipped_jpeg(image, cap)
        else:
            picture = pikepdf.PdfImage(image).as_pil_image()
    except UNDECODABLE_IMAGE:
        return None
    if picture is None:
        return None
    if "/SMask" in image and picture.mode in ("LA", "RGBA"):
        picture = picture.convert(picture.mode[:-1])  # pikepdf adds the soft mask as alpha; the samples are the rest
    if _MODE_COMPONENTS.get(picture.mode) != components or picture.size != (width, height):
        return None
    if not is_jpeg and picture.getcolors(PHOTO_MIN_COLOURS) is not None:
        return None  # few colours: line art, kept lossless
    return picture


_MODE_COMPONENTS = {"L": 1, "RGB": 3, "CMYK": 4}
_DEVICE_COMPONENTS = {Name.DeviceGray: 1, Name.DeviceRGB: 3, Name.DeviceCMYK: 4}


def _components(space: pikepdf.Object | None) -> int | None:
    """How many components a colour space has, for the ones whose samples a JPEG can carry as they are."""
    if isinstance(space, Name):
        return _DEVICE_COMPONENTS.get(space)
    if not isinstance(space, Array) or len(space) < 2:
        return None
    family = space[0]
    if family == Name.ICCBased and isinstance(space[1], pikepdf.Stream):
        n = space[1].get("/N")
        return int(n) if n in (1, 3, 4) else None
    for calibrated, count in ((Name.CalGray, 1), (Name.CalRGB, 3), (Name.Separation, 1)):
        if family == calibrated:
            return count
    return None


def _zipped_jpeg(image: pikepdf.Stream, cap: int) -> Image.Image | None:
    """A JPEG wrapped in zlib (as fpdf2 and some scan apps write them), unwrapped within `cap` bytes and read
    as the JPEG it is; None when the zlib layer has parameters (predictors) or is larger than a JPEG can be."""
    parms = image.get("/DecodeParms")
    if isinstance(parms, Array) and any(p is not None and len(p.keys()) for p in parms if isinstance(p, Dictionary)):
        return None
    jpeg = inflated(image.read_raw_bytes(), cap)
    if jpeg is None:
        return None
    picture = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
    if picture.size != (int(image.Width), int(image.Height)):
        return None  # decoded only at the size the PDF gives it (within the pixel limit)
    picture.load()
    return picture


def shrunk(original: bytes, candidate: bytes) -> bytes:
    """Never larger than the input (docs/api.md): the candidate when it is smaller, else the input itself."""
    return candidate if len(candidate) < len(original) else original
