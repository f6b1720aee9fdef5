"""Real PDFs made at test time (no binary fixtures in the repository): text, scans, photos, and hostile ones
(JavaScript, launch actions, embedded files, reference cycles, decompression bombs, 10,000 pages, truncated).

Text is drawn with the standard Helvetica font (real, extractable text); a "scan" is text drawn into pixels
with DejaVu Sans and stored as a JPEG page, as a scanner would. Used by the unit, service and bench tests.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, ImageDraw, ImageFont

A4 = (595, 842)
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MB = 1 << 20


def save(pdf: pikepdf.Pdf, **kwargs: object) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def _helvetica(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))


def text_page(pdf: pikepdf.Pdf, lines: list[str], size: tuple[float, float] = A4) -> pikepdf.Page:
    """A page with `lines` of real text."""
    ops = ["BT /F1 18 Tf 72 760 Td 22 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, *size]),
        Resources=Dictionary(Font=Dictionary(F1=_helvetica(pdf))),
        Contents=pdf.make_stream("\n".join(ops).encode()),
    )
    pdf.pages.append(pikepdf.Page(page))
    return pdf.pages[-1]


def text_pdf(pages: int = 3, *, outline: bool = True, link: bool = True) -> bytes:
    """`pages` pages saying "Page N", with an outline entry per page and a web link on the first."""
    pdf = pikepdf.new()
    for number in range(1, pages + 1):
        text_page(pdf, [f"Page {number}", f"This is page number {number} of {pages}."])
    if outline:
        with pdf.open_outline() as tree:
            for number in range(pages):
                tree.root.append(pikepdf.OutlineItem(f"Chapter {number + 1}", number))
    if link:
        uri = Dictionary(S=Name.URI, URI=String("https://example.com/"))
        annot = Dictionary(
            Type=Name.Annot, Subtype=Name.Link, Rect=Array([72, 700, 300, 730]), A=uri, Border=Array([0, 0, 0])
        )
        pdf.pages[0].obj.Annots = pdf.make_indirect(Array([pdf.make_indirect(annot)]))
    return save(pdf)


def rendered_text(words: list[str], size: tuple[int, int] = (2480, 3508), font_size: int = 48) -> Image.Image:
    """Clean black text on white, as a 300 dpi A4 scan of it would look."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), font_size)
    x, y, line = 200, 200, []
    for word in words:
        line.append(word)
        if len(line) == 8:
            draw.text((x, y), " ".join(line), font=font, fill=0)
            y, line = y + int(font_size * 1.8), []
    if line:
        draw.text((x, y), " ".join(line), font=font, fill=0)
    return image


def image_page(pdf: pikepdf.Pdf, image: Image.Image, page_size: tuple[float, float] = A4, quality: int = 90) -> None:
    """A page showing `image` (stored as a JPEG) across the whole page: a scan or a photo page."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    stream = pdf.make_stream(buf.getvalue())
    stream.Type, stream.Subtype, stream.Filter = Name.XObject, Name.Image, Name.DCTDecode
    stream.Width, stream.Height, stream.BitsPerComponent = image.width, image.height, 8
    stream.ColorSpace = Name.DeviceGray if image.mode == "L" else Name.DeviceRGB
    width, height = page_size
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, width, height]),
        Resources=Dictionary(XObject=Dictionary(Im0=stream)),
        Contents=pdf.make_stream(f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode()),
    )
    pdf.pages.append(pikepdf.Page(page))


def scanned_pdf(words: list[str], *, text_pages: int = 0) -> bytes:
    """One scanned page of `words` (no text in it), after `text_pages` pages that have text."""
    pdf = pikepdf.new()
    for number in range(text_pages):
        text_page(pdf, [f"Typed page {number + 1}"])
    image_page(pdf, rendered_text(words))
    return save(pdf)


def photo_pdf(photos: list[Image.Image], quality: int = 95) -> bytes:
    """A page per photograph, each stored at full resolution as a high-quality JPEG (as a phone's scan app or
    a slide export does), over a line of real text."""
    pdf = pikepdf.new()
    for photo in photos:
        image_page(pdf, photo.convert("RGB"), quality=quality)
        page = pdf.pages[-1]
        font = _helvetica(pdf)
        page.obj.Resources.Font = Dictionary(F1=font)
        page.contents_add(pdf.make_stream(b"BT /F1 12 Tf 36 36 Td (A photograph) Tj ET"), prepend=False)
    return save(pdf)


# ------------------------------------------------------------------ hostile


def javascript_pdf() -> bytes:
    """JavaScript run on opening (/OpenAction /JS), in the document's name tree, on a page's open (/AA) and
    behind a link."""
    pdf = pikepdf.new()
    text_page(pdf, ["Hello"])
    js = pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String("app.alert('pwned')")))
    pdf.Root.OpenAction = js
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("x"), js])))
    pdf.pages[0].obj.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("this.print()")))
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 100]), A=js)
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link)])
    return save(pdf)


def launch_pdf() -> bytes:
    """A launch action (run a program) on opening and on a link."""
    pdf = pikepdf.new()
    text_page(pdf, ["Click"])
    launch = Dictionary(S=Name.Launch, F=String("/bin/sh"), Win=Dictionary(F=String("cmd.exe"), P=String("/c calc")))
    pdf.Root.OpenAction = pdf.make_indirect(launch)
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 100]), A=launch)
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link)])
    return save(pdf)


def embedded_file_pdf() -> bytes:
    """An embedded executable, in the document's name tree and as a file attachment annotation."""
    pdf = pikepdf.new()
    text_page(pdf, ["Attached"])
    payload = pdf.make_stream(b"MZ\x90\x00 not really a program")
    payload.Type = Name.EmbeddedFile
    spec = pdf.make_indirect(Dictionary(Type=Name.Filespec, F=String("run.exe"), EF=Dictionary(F=payload)))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("run.exe"), spec])))
    attachment = Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=Array([0, 0, 20, 20]), FS=spec)
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(attachment)])
    return save(pdf)


def cyclic_pdf() -> bytes:
    """Reference cycles: an outline whose items point at each other, a form XObject that draws itself, and an
    action chain whose /Next is itself."""
    pdf = pikepdf.new()
    text_page(pdf, ["Cycles"])
    first = pdf.make_indirect(Dictionary(Title=String("A")))
    second = pdf.make_indirect(Dictionary(Title=String("B")))
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=first, Last=second, Count=2))
    first.Next, first.Parent, first.Dest = second, outlines, Array([pdf.pages[0].obj, Name.Fit])
    second.Next, second.Prev, second.Parent = first, first, outlines  # B → A → B …
    first.First, first.Last = second, second
    pdf.Root.Outlines = outlines
    form = pdf.make_stream(b"/Self Do")
    form.Type, form.Subtype, form.BBox = Name.XObject, Name.Form, Array([0, 0, 10, 10])
    form.Resources = Dictionary(XObject=Dictionary(Self=form))
    pdf.pages[0].obj.Resources.XObject = Dictionary(Self=form)
    pdf.pages[0].contents_add(pdf.make_stream(b"/Self Do"), prepend=False)
    action = pdf.make_indirect(Dictionary(S=Name.URI, URI=String("https://example.com/")))
    action.Next = action
    pdf.pages[0].obj.Annots = Array(
        [pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 9, 9]), A=action))]
    )
    return save(pdf)


def zeros_bomb(megabytes: int) -> bytes:
    """A zlib stream (about 1 KB per MB) that inflates to `megabytes` MB of zeros, built without inflating
    anything: each MB is compressed once and its full-flushed block repeated."""
    deflater = zlib.compressobj(9)
    head = deflater.compress(bytes(MB)) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(bytes(MB)) + deflater.flush(zlib.Z_FULL_FLUSH)
    total = megabytes * MB
    adler = ((total % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b grows by 1 per byte
    return head + block * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", adler)


def bomb_pdf(megabytes: int = 4096) -> bytes:
    """A page whose content stream, and an image whose 64x64 pixels' stream, each inflate to `megabytes` MB."""
    pdf = pikepdf.new()
    text_page(pdf, ["Bomb"])
    bomb = zeros_bomb(megabytes)
    content = pdf.make_stream(bomb)
    content.Filter = Name.FlateDecode
    image = pdf.make_stream(bomb)
    image.Type, image.Subtype, image.Filter = Name.XObject, Name.Image, Name.FlateDecode
    image.Width, image.Height, image.BitsPerComponent, image.ColorSpace = 64, 64, 8, Name.DeviceRGB
    page = pdf.pages[0]
    page.obj.Resources.XObject = Dictionary(Im0=image)
    page.contents_add(content, prepend=False)
    page.contents_add(pdf.make_stream(b"q 100 0 0 100 0 0 cm /Im0 Do Q"), prepend=False)
    return save(pdf, compress_streams=False)


def many_pages_pdf(pages: int = 10_000) -> bytes:
    """`pages` pages, each a line of text (sharing one font and one content stream: small on disk)."""
    pdf = pikepdf.new()
    text_page(pdf, ["A page among many"])
    first = pdf.pages[0].obj
    tree = pdf.Root.Pages
    kids = [first]
    for _ in range(pages - 1):  # the page tree written directly: appending one by one is quadratic
        page = Dictionary(Type=Name.Page, MediaBox=first.MediaBox, Resources=first.Resources, Contents=first.Contents)
        page.Parent = tree
        kids.append(pdf.make_indirect(page))
    tree.Kids, tree.Count = Array(kids), pages
    return save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def truncated_pdf(keep: float = 0.05) -> bytes:
    """The first `keep` of a PDF's bytes: cut before any page is whole."""
    data = text_pdf(3)
    return data[: max(16, int(len(data) * keep))]


def encrypted_pdf(password: str) -> bytes:
    return encrypted_pdf_of(text_pdf(2), password)


def encrypted_pdf_of(data: bytes, password: str) -> bytes:
    """`data` (a PDF) encrypted with AES-256 under `password`."""
    return save(pikepdf.open(io.BytesIO(data)), encryption=pikepdf.Encryption(owner=password, user=password, R=6))


HOSTILE = {
    "javascript": javascript_pdf,
    "launch": launch_pdf,
    "embedded_file": embedded_file_pdf,
    "cycles": cyclic_pdf,
}
