"""Geometry, EXIF orientation, metadata, animation and PDF pages."""

import io

import pytest
from conversion_helpers import decode, pdf_pages
from PIL import Image, ImageCms

from filegate.engines.image.engine import convert, probe
from filegate.formats.options import ImageOptions
from tests.helpers import media_samples as fm


@pytest.fixture(scope="module")
def landscape() -> bytes:
    return fm.encode(fm.photo(400, 200), "png")


@pytest.mark.parametrize(
    ("opts", "size"),
    [
        (ImageOptions(width=100), (100, 50)),
        (ImageOptions(height=50), (100, 50)),
        (ImageOptions(width=100, height=100), (100, 50)),  # contain: inside the box
        (ImageOptions(width=100, height=100, fit="cover"), (100, 100)),  # cover: fills, cropped
        (ImageOptions(width=50, height=200, fit="cover"), (50, 200)),
        (ImageOptions(width=800), (400, 200)),  # never enlarged beyond its own size (docs/api.md §4)...
        (ImageOptions(width=800, height=100), (200, 100)),  # (contain: the smaller side decides)
        (ImageOptions(width=800, height=800, fit="cover"), (200, 200)),  # the box, shrunk to fit the image
        (ImageOptions(width=800, enlarge=True), (800, 400)),  # ...unless enlarge is true
        (ImageOptions(), (400, 200)),
    ],
)
def test_resize(landscape: bytes, opts: ImageOptions, size: tuple[int, int]) -> None:
    result = convert(landscape, "png", opts)
    assert (result.width, result.height) == size
    assert decode(result.data).size == size


def test_cover_crops_the_centre() -> None:
    # Left third red, middle green, right third blue: a square cover crop keeps only green.
    image = Image.new("RGB", (300, 100), (0, 255, 0))
    image.paste((255, 0, 0), (0, 0, 100, 100))
    image.paste((0, 0, 255), (200, 0, 300, 100))
    out = decode(convert(fm.encode(image, "png"), "png", ImageOptions(width=50, height=50, fit="cover")).data)
    r, g, b = out.convert("RGB").getpixel((2, 25))  # type: ignore[misc]
    assert g > 200 and r < 60 and b < 60


def test_jpeg_draft_resize_keeps_exact_size() -> None:
    data = fm.encode(fm.photo(2000, 1500), "jpg", quality=90)
    result = convert(data, "jpg", ImageOptions(width=333))
    assert decode(result.data).size == (333, 250)
    cover = convert(data, "webp", ImageOptions(width=120, height=300, fit="cover"))
    assert decode(cover.data).size == (120, 300)


def test_ico_is_capped_at_256() -> None:
    result = convert(fm.encode(fm.photo(1000, 500), "png"), "ico")
    assert (result.width, result.height) == (256, 128)
    assert decode(result.data).size == (256, 128)


@pytest.mark.parametrize("target", ["jpg", "png", "webp"])
def test_exif_orientation_applied_before_stripping(target: str) -> None:
    data = fm.jpeg_with_exif(400, 200, orientation=6)  # stored landscape, red stored top-left
    result = convert(data, target)
    out = decode(result.data).convert("RGB")
    assert out.size == (200, 400)  # displayed portrait
    assert "exif" not in out.info or 0x0112 not in out.getexif()
    # Orientation 6 rotates 90° clockwise: the stored top-left corner ends up top-right.
    r, g, b = out.getpixel((190, 10))  # type: ignore[misc]
    assert r > 200 and g < 80 and b < 80
    assert probe(data)[1:] == (200, 400)


def test_orientation_with_resize() -> None:
    data = fm.jpeg_with_exif(800, 400, orientation=8)
    result = convert(data, "png", ImageOptions(width=100))
    assert decode(result.data).size == (100, 200)


@pytest.mark.parametrize("target", ["jpg", "png", "webp", "tiff", "avif", "gif", "bmp", "ico", "pdf"])
def test_metadata_stripped_by_default(target: str) -> None:
    data = fm.jpeg_with_exif(120, 80)
    out = convert(data, target).data
    assert b"FileGateCam" not in out
    if target != "pdf":
        image = decode(out)
        assert not image.info.get("icc_profile")
        assert 0x010F not in image.getexif() and 0x8825 not in image.getexif()


def test_png_text_chunks_stripped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret person")
    data = fm.encode(fm.photo(50, 50), "png", pnginfo=info)
    assert b"secret person" not in convert(data, "png").data


@pytest.mark.parametrize("target", ["jpg", "webp", "png", "avif", "tiff"])
def test_metadata_kept_when_asked(target: str) -> None:
    data = fm.jpeg_with_exif(120, 80, orientation=6)
    result = convert(data, target, ImageOptions(strip_metadata=False))
    image = decode(result.data)
    assert image.size == (80, 120)
    exif = image.getexif()
    assert exif.get(0x010F) == "FileGateCam"
    assert exif.get(0x0112, 1) == 1  # already applied: never rotated twice
    assert image.info.get("icc_profile") == fm.srgb_icc()


def test_metadata_kept_is_ignored_by_formats_without_it() -> None:
    data = fm.jpeg_with_exif(120, 80)
    for target in ("gif", "bmp", "ico"):
        assert convert(data, target, ImageOptions(strip_metadata=False)).data


def test_broken_icc_profile_does_not_fail() -> None:
    data = fm.encode(fm.photo(40, 40), "jpg", icc_profile=b"not a real profile" * 10)
    assert decode(convert(data, "png").data).size == (40, 40)


def test_non_srgb_profile_is_converted_when_stripped() -> None:
    # A profile that is not sRGB (here: a D50 XYZ-ish one lcms can build) is applied to the pixels, then dropped.
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB", 5000)).tobytes()
    data = fm.encode(Image.new("RGB", (20, 20), (200, 100, 50)), "png", icc_profile=profile)
    out = decode(convert(data, "png").data)
    assert not out.info.get("icc_profile")


@pytest.mark.parametrize(("source", "target"), [("gif", "webp"), ("webp", "gif"), ("gif", "gif"), ("webp", "webp")])
def test_animation_kept_between_animated_formats(source: str, target: str) -> None:
    result = convert(fm.animated(source, frames=4), target, ImageOptions(width=20))
    image = Image.open(io.BytesIO(result.data))
    assert getattr(image, "n_frames", 1) == 4
    assert image.size == (20, 15)
    durations = []
    for i in range(4):
        image.seek(i)
        image.load()  # WebP sets a frame's duration when it decodes it
        durations.append(image.info.get("duration"))
    assert durations == [80, 90, 100, 110]


@pytest.mark.parametrize("target", ["png", "jpg", "avif", "pdf"])
def test_animation_to_still_takes_first_frame(target: str) -> None:
    result = convert(fm.animated("gif"), target)
    assert (result.width, result.height) == (40, 30)


def test_pdf_pages_and_dpi() -> None:
    pdf = fm.pdf_document(pages=3, size=(144, 72))  # 2 x 1 inch
    first = convert(pdf, "png")
    assert (first.width, first.height) == (300, 150)  # 150 dpi
    third = convert(pdf, "jpg", ImageOptions(page=3))
    assert decode(third.data).size == (300, 150)
    sized = convert(pdf, "png", ImageOptions(width=1000))
    assert decode(sized.data).size == (1000, 500)  # rendered straight at the requested size


def test_image_to_pdf_page_size() -> None:
    result = convert(fm.encode(fm.photo(300, 200), "png"), "pdf")
    assert pdf_pages(result.data) == [(300.0, 200.0)]
    assert result.content_type == "application/pdf" and result.extension == "pdf"


def test_transparent_png_to_jpg_flattens_on_white() -> None:
    data = fm.encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "png")
    out = decode(convert(data, "jpg").data)
    assert out.mode == "RGB"
    assert min(out.getpixel((5, 5))) > 240  # type: ignore[arg-type]


def test_transparency_survives_to_gif() -> None:
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 5, 10))
    out = decode(convert(fm.encode(image, "png"), "gif").data).convert("RGBA")
    assert out.getpixel((1, 1))[3] == 0  # type: ignore[index]
    assert out.getpixel((8, 8))[3] == 255  # type: ignore[index]


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    data = fm.encode(Image.new("I;16", (8, 8), 32768), "png")
    out = decode(convert(data, "jpg").data)
    assert 120 < out.convert("L").getpixel((4, 4)) < 136  # type: ignore[operator]


def test_result_fields() -> None:
    result = convert(fm.sample("png"), "jpeg")
    assert (result.format, result.content_type, result.extension) == ("jpg", "image/jpeg", "jpg")
    assert result.unchanged is False
