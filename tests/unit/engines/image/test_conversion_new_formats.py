"""The formats people send besides the web ones: one real file of each converts to PNG with its pixels;
multi-page TIFF keeps `page`; JPEG XL is also written; SVG renders without touching a file or the network."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conversion_helpers import decode
from PIL import Image, ImageChops, ImageStat

from filegate.engines.image.engine import convert, probe
from filegate.errors import ConversionFailed, InvalidParameter
from filegate.formats.options import ImageOptions
from tests.helpers import image_samples
from tests.helpers import media_samples as fm
from tests.helpers.listener import Listener

SOURCE = fm.photo(64, 48, seed=2)
# Mean difference per channel (0-255) allowed: lossless formats keep the pixels, lossy ones nearly.
FAITHFUL = {"tga": 0, "dds": 0, "sgi": 0, "pcx": 0, "pnm": 0, "qoi": 0, "psd": 0, "pam": 0, "jp2": 6, "jxl": 6}


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


@pytest.mark.parametrize("fmt", image_samples.FORMATS)
def test_each_new_format_converts_to_png(fmt: str) -> None:
    data = image_samples.make(fmt, SOURCE)
    assert probe(data)[0] == fmt
    out = decode(convert(data, "png").data)
    assert out.format == "PNG"
    if fmt in FAITHFUL:
        assert out.size == SOURCE.size
        assert _mean_difference(out, SOURCE) <= FAITHFUL[fmt], fmt


def test_dng_is_demosaiced_to_a_colour_image() -> None:
    out = decode(convert(image_samples.make("dng", SOURCE), "png").data)
    assert out.size == SOURCE.size and out.mode == "RGB"
    assert len(out.getcolors(1 << 16) or range(1 << 17)) > 100  # a real picture, not a flat colour


def test_jxl_is_written_and_read_back() -> None:
    result = convert(fm.encode(SOURCE, "png"), "jxl", ImageOptions(quality=95))
    assert result.data.startswith(b"\xff\x0a") and result.content_type == "image/jxl"
    back = decode(convert(result.data, "png").data)
    assert _mean_difference(back, SOURCE) < 6


def test_multi_page_tiff_keeps_page() -> None:
    pages = [Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (50, 20), (0, 0, 255))]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    second = decode(convert(buf.getvalue(), "png", ImageOptions(page=2)).data)
    assert second.size == (50, 20) and second.convert("RGB").getpixel((5, 5)) == (0, 0, 255)
    first = decode(convert(buf.getvalue(), "png").data)
    assert first.size == (40, 30)
    with pytest.raises(InvalidParameter, match="page must be from 1 to 2"):
        convert(buf.getvalue(), "png", ImageOptions(page=3))


def test_svg_renders_at_its_own_size_or_the_asked_one() -> None:
    doc = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 20"><rect width="30" height="20" fill="red"/></svg>'
    assert convert(doc, "png").width == 30
    big = decode(convert(doc, "png", ImageOptions(width=300)).data)
    assert big.size == (300, 200)
    assert big.convert("RGB").getpixel((150, 100)) == (255, 0, 0)


def test_svg_never_reads_files_nor_opens_connections(tmp_path: Path) -> None:
    red = tmp_path / "red.png"
    Image.new("RGB", (10, 10), (255, 0, 0)).save(red)
    listener = Listener()
    try:
        references = [
            "file:///etc/passwd",
            "/etc/passwd",
            f"file://{red}",
            str(red),
            f"http://127.0.0.1:{listener.port}/image.png",
            f"http://127.0.0.1:{listener.port}/other.svg#shape",
        ]
        images = "".join(
            f'<image x="0" y="0" width="40" height="40" href="{ref}" xlink:href="{ref}"/>' for ref in references
        )
        doc = (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            'width="40" height="40"><rect width="40" height="40" fill="white"/>'
            f'{images}<use href="http://127.0.0.1:{listener.port}/sprite.svg#a"/>'
            f'<style>@import url("http://127.0.0.1:{listener.port}/style.css");</style></svg>'
        ).encode()
        out = decode(convert(doc, "png").data).convert("RGB")
    finally:
        listener.close()
    assert listener.connections == 0
    assert out.getcolors() == [(1600, (255, 255, 255))]  # the red PNG on disk was never drawn


def test_svg_embedded_raster_images_still_render() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 255, 0)).save(buf, format="PNG")
    import base64

    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    doc = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image width="8" height="8" href="{uri}"/></svg>'
    )
    assert decode(convert(doc.encode(), "png").data).convert("RGB").getpixel((4, 4)) == (0, 255, 0)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',  # a billion laughs
        '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>',  # an external entity
    ],
)
def test_svg_entities_are_refused(doctype: str) -> None:
    doc = f'<?xml version="1.0"?>{doctype}<svg xmlns="http://www.w3.org/2000/svg" width="5" height="5"><text>&b;</text></svg>'
    with pytest.raises(ConversionFailed, match="entities"):
        convert(doc.encode(), "png")


def test_svg_over_the_pixel_limit_is_refused_before_rendering() -> None:
    doc = b'<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"></svg>'
    with pytest.raises(ConversionFailed, match="at most"):
        convert(doc, "png")
