"""Compress a PDF (docs/pdf-tools.md): photos re-encoded at `quality` and downsampled to `dpi` where they are
drawn, duplicates merged, unused objects dropped, object streams on; text stays text, links and outline stay,
page count and sizes the same; never larger than the input."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from pdf_helpers import opened, page_texts, run
from PIL import Image

from filegate.engines.pdf.compress import CompressSettings, compress_pdf
from filegate.errors import InvalidParameter
from tests.helpers import media_samples as fm
from tests.helpers import pdf_samples as ps


def _images(data: bytes) -> list[tuple[int, int, str]]:
    pdf = opened(data)
    return [
        (int(o.Width), int(o.Height), str(o.Filter))
        for o in pdf.objects
        if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == pikepdf.Name.Image
    ]


def test_a_photo_pdf_gets_much_smaller_and_keeps_its_pages_and_text(tmp_path: Path) -> None:
    source = ps.photo_pdf([fm.photo(2480, 3508), fm.photo(1240, 1754, seed=3)])  # A4 at 300 and 150 dpi
    out = run(source, {}, tmp_path, target=None)
    data = out.data or b""
    assert len(data) < len(source) / 4
    assert out.metadata == {"kind": "document", "format": "pdf", "pages": 2}
    before, after = opened(source), opened(data)
    assert [list(p.mediabox) for p in before.pages] == [list(p.mediabox) for p in after.pages]
    assert [t.strip() for t in page_texts(data)] == ["A photograph", "A photograph"]
    # 150 dpi across an A4 page: 1240 x 1754 pixels (from 2480 x 3508); the 150 dpi one keeps its size.
    for width, height, codec in _images(data):
        assert (abs(width - 1240) <= 1, abs(height - 1754) <= 1, codec) == (True, True, "/DCTDecode")


def test_dpi_and_quality_are_the_callers(tmp_path: Path) -> None:
    source = ps.photo_pdf([fm.photo(2480, 3508)])
    low = run(source, {"dpi": 72, "quality": 40}, tmp_path, target=None).data or b""
    default = run(source, {}, tmp_path, target=None).data or b""
    [(width, height, codec)] = _images(low)
    assert (abs(width - 595) <= 1, abs(height - 842) <= 1, codec) == (True, True, "/DCTDecode")
    assert len(low) < len(default) / 2


def test_an_image_drawn_small_is_downsampled_to_where_it_is_drawn() -> None:
    pdf = pikepdf.new()
    ps.image_page(pdf, fm.photo(2000, 2000), page_size=(144, 144))  # 2000 px over 2 inches: 1000 dpi
    compress_pdf(pdf, CompressSettings(dpi=100))
    image = next(o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == pikepdf.Name.Image)
    assert (int(image.Width), int(image.Height)) == (200, 200)


def test_identical_images_are_stored_once(tmp_path: Path) -> None:
    photo = fm.photo(600, 800)
    pdf = pikepdf.new()
    for _ in range(3):  # three pages, each with its own copy of the same JPEG
        ps.image_page(pdf, photo, quality=70)
    source = ps.save(pdf)
    assert len(_images(source)) == 3
    out = run(source, {}, tmp_path, target=None).data or b""
    assert len(_images(out)) == 1 and len(opened(out).pages) == 3
    assert len(out) < len(source) / 2


def test_line_art_is_kept_lossless() -> None:
    art = Image.new("RGB", (1200, 1200), "white")
    for x in range(0, 1200, 40):
        art.paste((200, 0, 0), (x, 0, x + 3, 1200))
    pdf = pikepdf.new()
    ps.text_page(pdf, ["Diagram"])
    stream = pdf.make_stream(art.tobytes())
    stream.Type, stream.Subtype, stream.Width, stream.Height = pikepdf.Name.XObject, pikepdf.Name.Image, 1200, 1200
    stream.ColorSpace, stream.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Im0=stream)
    pdf.pages[0].contents_add(pdf.make_stream(b"q 200 0 0 200 100 100 cm /Im0 Do Q"), prepend=False)
    compress_pdf(pdf, CompressSettings())
    assert "/Filter" not in stream or stream.Filter != pikepdf.Name.DCTDecode
    assert (int(stream.Width), int(stream.Height)) == (1200, 1200)


def test_links_and_outline_stay(tmp_path: Path) -> None:
    source = ps.text_pdf(3)
    pdf = opened(source)
    ps.image_page(pdf, fm.photo(1600, 1600))
    out = run(ps.save(pdf), {}, tmp_path, target=None).data or b""
    result = opened(out)
    assert str(result.pages[0].obj.Annots[0].A.URI) == "https://example.com/"
    with result.open_outline() as outline:
        assert [item.title for item in outline.root] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert page_texts(out)[2].startswith("Page 3")


def test_applications_private_data_and_thumbnails_are_dropped(tmp_path: Path) -> None:
    # As Illustrator saves: its own file in the page's /PieceInfo, and a page thumbnail.
    pdf = opened(ps.text_pdf(2))
    private = pdf.make_stream(os.urandom(200_000))
    illustrator = pikepdf.Dictionary(Private=pikepdf.Dictionary(AIPrivateData1=private))
    pdf.pages[0].obj.PieceInfo = pikepdf.Dictionary(Illustrator=illustrator)
    pdf.Root.PieceInfo = pikepdf.Dictionary(Illustrator=illustrator)
    pdf.pages[1].obj.Thumb = pdf.make_stream(os.urandom(30_000))
    source = ps.save(pdf)
    out = run(source, {}, tmp_path, target=None).data or b""
    assert len(out) < len(source) / 10
    result = opened(out)
    assert "/PieceInfo" not in result.Root
    assert [("/PieceInfo" in p.obj, "/Thumb" in p.obj) for p in result.pages] == [(False, False)] * 2
    assert [t.splitlines()[0] for t in page_texts(out)] == ["Page 1", "Page 2"]


def _zip_images(pdf: pikepdf.Pdf, wrap: Callable[[bytes], bytes]) -> None:
    """Every image's bytes wrapped in zlib, filters [/FlateDecode /DCTDecode] (as fpdf2 writes JPEGs)."""
    for obj in list(pdf.objects):
        if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Image:
            zipped = pikepdf.Array([pikepdf.Name.FlateDecode, pikepdf.Name.DCTDecode])
            obj.write(wrap(obj.read_raw_bytes()), filter=zipped)


def test_a_jpeg_wrapped_in_zlib_is_a_photo_too(tmp_path: Path) -> None:
    pdf = opened(ps.photo_pdf([fm.photo(2480, 3508)]))  # A4 at 300 dpi
    _zip_images(pdf, zlib.compress)
    source = ps.save(pdf)
    data = run(source, {}, tmp_path, target=None).data or b""
    assert len(data) < len(source) / 3
    [(width, height, codec)] = _images(data)
    assert (abs(width - 1240) <= 1, abs(height - 1754) <= 1, codec) == (True, True, "/DCTDecode")


def test_a_zlib_bomb_posing_as_a_wrapped_jpeg_is_never_inflated(tmp_path: Path) -> None:
    bomb = ps.zeros_bomb(4096)
    pdf = opened(ps.photo_pdf([fm.photo(64, 64)]))
    _zip_images(pdf, lambda _: bomb)
    source = ps.save(pdf)
    out = run(source, {}, tmp_path, target=None).data or b""
    assert bomb in out  # carried as it came: 4 GB of zeros were never asked for


def test_never_larger_the_input_comes_back_when_nothing_is_gained(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    ps.text_page(pdf, ["Tiny"])
    source = ps.save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate, compress_streams=True)
    out = run(source, {}, tmp_path, target=None)
    assert out.data == source


def test_a_password_encrypts_the_compressed_output(tmp_path: Path) -> None:
    out = run(ps.photo_pdf([fm.photo(1200, 1600)]), {"password": "pw"}, tmp_path, target=None).data or b""
    assert opened(out, password="pw").is_encrypted


def test_compressing_an_encrypted_pdf_needs_its_password(tmp_path: Path) -> None:
    source = ps.encrypted_pdf("pw")
    with pytest.raises(InvalidParameter, match=r"^input_password"):
        run(source, {}, tmp_path, target=None)
    out = run(source, {"input_password": "pw"}, tmp_path, target=None).data or b""
    assert page_texts(out, "pw")[0].startswith("Page 1")
