"""Compress, what closes the gaps to Ghostscript /ebook (docs/pdf-tools.md): 1-bit scans as CCITT G4, Flate at
zlib's highest level, applications' private XMP and print output intents dropped (a PDF/A keeps its own). Each
on a PDF made here: the size falls and what a page shows stays."""

from __future__ import annotations

import base64
import io
import os
import time
import zlib
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
from pdf_helpers import opened, page_texts, run
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, TiffImagePlugin

from filegate.engines.pdf.bilevel import reencode_bilevel
from filegate.engines.pdf.flate import recompress_flate
from tests.helpers import media_samples as fm
from tests.helpers import pdf_samples as ps


def _rendered(data: bytes, scale: float = 1.0) -> list[np.ndarray]:
    document = pdfium.PdfDocument(data)
    try:
        return [np.asarray(document[i].render(scale=scale, grayscale=True).to_pil()) for i in range(len(document))]
    finally:
        document.close()


def _bilevel_scan_pdf(filters: str, *, black_is_1: bool = False) -> bytes:
    """A page of rendered text as a 300 dpi 1-bit image, stored raw, as Flate, or as Group 3 fax (libtiff's)."""
    scan = ps.rendered_text(["invoice", "payment", "received", "thank", "you"]).convert("1")
    pdf = pikepdf.new()
    ps.text_page(pdf, ["A scanned page"])
    if filters == "flate":
        image = pdf.make_stream(zlib.compress(scan.tobytes(), 6))
        image.Filter = Name.FlateDecode
    else:  # Group 3, one dimensional, of the inverted pixels (fax white is 0)
        out = io.BytesIO()
        Image.eval(scan.convert("L"), lambda v: 255 - v).convert("1").save(
            out, "TIFF", compression="group3", strip_size=1 << 30
        )
        tiff = Image.open(io.BytesIO(out.getvalue()))
        assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
        offset, count = tiff.tag_v2[273][0], tiff.tag_v2[279][0]
        image = pdf.make_stream(out.getvalue()[offset : offset + count])
        image.Filter = Name.CCITTFaxDecode
        image.DecodeParms = Dictionary(K=0, Columns=scan.width, Rows=scan.height, BlackIs1=black_is_1)
    image.Type, image.Subtype, image.ColorSpace = Name.XObject, Name.Image, Name.DeviceGray
    image.Width, image.Height, image.BitsPerComponent = scan.width, scan.height, 1
    page = pdf.pages[0]
    page.obj.Resources.XObject = Dictionary(Im0=image)
    page.contents_add(pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q"), prepend=False)
    return bytes(ps.save(pdf))


def _image(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    return next(o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == Name.Image)


def test_a_one_bit_scan_becomes_group_4_with_every_pixel_the_same(tmp_path: Path) -> None:
    for filters, black_is_1 in (("flate", False), ("group3", False), ("group3", True)):
        source = _bilevel_scan_pdf(filters, black_is_1=black_is_1)
        original = opened(source)
        before = pikepdf.PdfImage(_image(original)).as_pil_image()
        out = run(source, {}, tmp_path, target=None).data or b""
        assert len(out) < len(source) * 0.7, filters
        result = opened(out)
        image = _image(result)
        assert (image.Filter, int(image.DecodeParms.K), int(image.BitsPerComponent)) == (Name.CCITTFaxDecode, -1, 1)
        after = pikepdf.PdfImage(image).as_pil_image()
        assert before.tobytes() == after.tobytes(), filters  # lossless
        assert all(np.array_equal(a, b) for a, b in zip(_rendered(source), _rendered(out), strict=True)), filters
        assert page_texts(out)[0].strip() == "A scanned page"


def test_a_one_bit_image_whose_zlib_inflates_past_its_pixels_is_left_alone() -> None:
    pdf = pikepdf.new()
    bomb = ps.zeros_bomb(1024)
    image = pdf.make_stream(bomb)
    image.Type, image.Subtype, image.Filter, image.ColorSpace = (
        Name.XObject,
        Name.Image,
        Name.FlateDecode,
        Name.DeviceGray,
    )
    image.Width, image.Height, image.BitsPerComponent = 64, 64, 1
    started = time.monotonic()
    assert reencode_bilevel(image, 50_000_000) == 0
    assert time.monotonic() - started < 5 and image.read_raw_bytes() == bomb  # never inflated, kept as it came


def test_flate_streams_are_deflated_again_at_the_highest_level(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    lines = [f"Line {n} of a long report: the quick brown fox jumps over the lazy dog {n % 7}" for n in range(400)]
    page = ps.text_page(pdf, lines)
    content = page.obj.Contents
    content.write(zlib.compress(content.read_bytes(), 1), filter=Name.FlateDecode)  # a fast writer's level
    font_program = pdf.make_stream(zlib.compress(bytes(range(256)) * 400 + os.urandom(2000), 1))
    font_program.Filter = Name.FlateDecode
    page.obj.Resources.Font.F1.FontDescriptor = Dictionary(FontFile2=font_program)
    source = ps.save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    sizes = (len(content.read_raw_bytes()), len(font_program.read_raw_bytes()))
    assert recompress_flate(pdf) == 2
    assert len(content.read_raw_bytes()) < sizes[0] and len(font_program.read_raw_bytes()) < sizes[1]
    out = run(source, {}, tmp_path, target=None).data or b""
    assert len(out) < len(source)
    assert page_texts(out) == page_texts(source)


def _xmp(*, thumbnail: bytes, pdfa: bool, pdfx: bool) -> bytes:
    claims = ""
    if pdfa:
        claims += "<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
    if pdfx:
        claims += "<pdfxid:GTS_PDFXVersion>PDF/X-4</pdfxid:GTS_PDFXVersion>"
    history = "".join(
        f'<rdf:li rdf:parseType="Resource"><stEvt:action>saved</stEvt:action><stEvt:instanceID>xmp.iid:{n:040d}'
        f"</stEvt:instanceID></rdf:li>"
        for n in range(300)
    )
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
 xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
 xmlns:pdfxid="http://www.npes.org/pdfx/ns/id/" xmlns:illustrator="http://ns.adobe.com/illustrator/1.0/">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Quarterly report</rdf:li></rdf:Alt></dc:title>
<xmp:CreatorTool>Adobe Illustrator</xmp:CreatorTool>{claims}
<illustrator:StartupProfile>Print</illustrator:StartupProfile>
<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource"><xmpGImg:format>JPEG</xmpGImg:format>
<xmpGImg:image>{base64.b64encode(thumbnail).decode()}</xmpGImg:image></rdf:li></rdf:Alt></xmp:Thumbnails>
<xmpMM:History><rdf:Seq>{history}</rdf:Seq></xmpMM:History>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>""".encode()


def _print_ready_pdf(*, pdfa: bool) -> bytes:
    """A page of text with an editor's XMP (a thumbnail, its history), a 300 KB output intent's ICC profile
    and an image carrying XMP of its own; claiming PDF/X, or PDF/A."""
    pdf = opened(ps.text_pdf(2))
    metadata = pdf.make_stream(_xmp(thumbnail=os.urandom(30_000), pdfa=pdfa, pdfx=not pdfa))
    metadata.Type, metadata.Subtype = Name.Metadata, Name.XML
    pdf.Root.Metadata = metadata
    profile = pdf.make_stream(os.urandom(300_000))
    profile.N = 4
    pdf.Root.OutputIntents = Array(
        [Dictionary(Type=Name.OutputIntent, S=Name.GTS_PDFA1 if pdfa else Name.GTS_PDFX,
                    OutputConditionIdentifier=String("FOGRA39"), DestOutputProfile=profile)]
    )  # fmt: skip
    if not pdfa:
        pdf.docinfo[Name.GTS_PDFXVersion] = String("PDF/X-4")
    ps.image_page(pdf, Image.new("RGB", (50, 50), "navy"))
    image = _image(pdf)
    image.Metadata = pdf.make_stream(_xmp(thumbnail=os.urandom(10_000), pdfa=False, pdfx=False))
    return bytes(ps.save(pdf))


def test_an_editors_private_xmp_goes_and_the_documents_own_properties_stay(tmp_path: Path) -> None:
    source = _print_ready_pdf(pdfa=True)
    out = run(source, {}, tmp_path, target=None).data or b""
    result = opened(out)
    with result.open_metadata() as meta:
        assert meta["dc:title"] == "Quarterly report" and meta["xmp:CreatorTool"] == "Adobe Illustrator"
        assert meta.pdfa_status == "2B"
        assert not {"xmp:Thumbnails", "xmpMM:History", "illustrator:StartupProfile"} & set(meta)
        assert "{http://ns.adobe.com/xap/1.0/}Thumbnails" not in meta
    assert "/Metadata" not in _image(result)
    xmp = result.Root.Metadata.read_bytes()
    assert len(xmp) < 4_000 and b"ns.adobe.com/illustrator" not in xmp  # its namespace, unused now, gone too
    assert [t.splitlines()[0] for t in page_texts(out)[:2]] == ["Page 1", "Page 2"]


def test_a_pdfa_keeps_its_output_intent_and_any_other_pdf_loses_it_with_its_pdfx_claim(tmp_path: Path) -> None:
    pdfa = run(_print_ready_pdf(pdfa=True), {}, tmp_path, target=None).data or b""
    kept_pdf = opened(pdfa)
    kept = kept_pdf.Root.OutputIntents[0]
    assert kept.S == Name.GTS_PDFA1 and len(kept.DestOutputProfile.read_bytes()) == 300_000

    source = _print_ready_pdf(pdfa=False)
    out = run(source, {}, tmp_path, target=None).data or b""
    result = opened(out)
    assert "/OutputIntents" not in result.Root and "/GTS_PDFXVersion" not in result.docinfo
    with result.open_metadata() as meta:
        assert "pdfxid:GTS_PDFXVersion" not in meta and meta["dc:title"] == "Quarterly report"
    assert len(out) < len(source) / 10
    original = opened(source)
    assert len(result.pages) == 3 and [list(p.mediabox) for p in result.pages] == [
        list(p.mediabox) for p in original.pages
    ]


def test_an_xmp_entity_bomb_is_never_expanded(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10 if n else "lol"}">' for n in range(10))
    xmp = f'<?xml version="1.0"?><!DOCTYPE x [{laughs}]><x:xmpmeta xmlns:x="adobe:ns:meta/">&l9;</x:xmpmeta>'
    pdf = opened(ps.text_pdf(1))
    pdf.Root.OutputIntents = Array([Dictionary(S=Name.GTS_PDFX, DestOutputProfile=pdf.make_stream(os.urandom(50_000)))])
    metadata = pdf.make_stream(xmp.encode())
    metadata.Type, metadata.Subtype = Name.Metadata, Name.XML
    pdf.Root.Metadata = metadata
    started = time.monotonic()
    out = run(ps.save(pdf), {}, tmp_path, target=None).data or b""
    assert time.monotonic() - started < 20
    assert page_texts(out)[0].startswith("Page 1")


def _photo_page_pdf(photo: Image.Image, color_space: object, *, soft_mask: bool = False) -> bytes:
    """One 2-inch-square page showing `photo` (a 600-pixel JPEG: 300 dpi) in `color_space`."""
    pdf = pikepdf.new()
    ps.image_page(pdf, Image.new("RGB", (8, 8)), page_size=(144, 144))
    image = _image(pdf)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=95)
    image.write(buffer.getvalue(), filter=Name.DCTDecode)
    image.Width, image.Height = photo.size
    image.ColorSpace = color_space(pdf) if callable(color_space) else color_space
    if soft_mask:
        alpha = Image.linear_gradient("L").resize(photo.size)
        mask = pdf.make_stream(zlib.compress(alpha.tobytes()))
        mask.Type, mask.Subtype, mask.Filter, mask.ColorSpace = (
            Name.XObject,
            Name.Image,
            Name.FlateDecode,
            Name.DeviceGray,
        )
        mask.Width, mask.Height, mask.BitsPerComponent = alpha.width, alpha.height, 8
        image.SMask = mask
    return bytes(ps.save(pdf))


def _icc_rgb(pdf: pikepdf.Pdf) -> pikepdf.Array:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stream = pdf.make_stream(profile)
    stream.N = 3
    return Array([Name.ICCBased, stream])


def test_cmyk_icc_based_and_soft_masked_photos_are_downsampled_in_their_own_colour_space(tmp_path: Path) -> None:
    photo = fm.photo(600, 600, seed=5)
    cases = [
        ("cmyk", _photo_page_pdf(photo.convert("CMYK"), Name.DeviceCMYK), "/DeviceCMYK"),
        ("icc", _photo_page_pdf(photo, _icc_rgb), "/ICCBased"),
        ("smask", _photo_page_pdf(photo, Name.DeviceRGB, soft_mask=True), "/DeviceRGB"),
    ]
    for name, source, space in cases:
        out = run(source, {}, tmp_path, target=None).data or b""
        assert len(out) < len(source) * 0.6, name
        result = opened(out)
        image = next(o for o in result.objects if isinstance(o, pikepdf.Stream) and "/Width" in o and o.Width == 300)
        assert (int(image.Height), image.Filter) == (300, Name.DCTDecode), name  # 150 dpi over 2 inches
        color_space = image.ColorSpace
        assert str(color_space[0] if isinstance(color_space, Array) else color_space) == space, name
        if name == "smask":
            assert int(image.SMask.Width) == 600 and image.SMask.Filter == Name.FlateDecode  # lossless, as it was
        # What a viewer shows stays (a CMYK JPEG's inverted-sample convention kept): pdfium renders both alike.
        [before], [after] = _rendered(source, scale=2), _rendered(out, scale=2)
        assert float(np.abs(before.astype(float) - after.astype(float)).mean()) < 4, name


def test_a_fax_image_pikepdf_cannot_decode_is_kept_and_the_rest_compressed(tmp_path: Path) -> None:
    pdf = opened(_bilevel_scan_pdf("group3"))
    image = _image(pdf)
    image.DecodeParms.EncodedByteAlign = True  # rows byte-aligned: pikepdf refuses to decode such a stream
    raw = image.read_raw_bytes()
    source = ps.save(pdf)
    out = run(source, {}, tmp_path, target=None).data or b""
    result = opened(out)
    assert _image(result).read_raw_bytes() == raw and page_texts(out)[0].strip() == "A scanned page"
