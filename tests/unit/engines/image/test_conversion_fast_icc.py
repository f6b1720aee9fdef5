"""Wide-gamut photos on the libvips path (engines/image/fast.py) come out in the colours the Pillow path
(LittleCMS through ImageCms, engines/image/colour.py) gives them: on real ICC profiles (Display P3, Adobe RGB,
ProPhoto, a CMYK press profile, a grey one, built in tests/helpers/icc_profiles.py), mean ΔE2000 at most 1 and no channel
off by more than 2 levels before encoding; the metadata rules unchanged (the profile is dropped, the pixels
converted; kept only with strip_metadata=false, which is Pillow's case)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from conversion_helpers import decode
from PIL import Image, ImageDraw

from filegate.engines.image import fast, vips
from filegate.engines.image.colour import to_srgb
from filegate.engines.image.decode import icc_of, register_heif
from filegate.engines.image.engine import convert
from filegate.engines.image.limits import EngineLimits
from filegate.engines.image.raster import convert_raster
from filegate.errors import ConversionFailed
from filegate.formats.options import ImageOptions
from filegate.tiers import TIERS
from tests.helpers import icc_profiles
from tests.helpers import media_samples as fm

PRO = EngineLimits.for_tier(TIERS["pro"])
pytestmark = pytest.mark.skipif(not vips.available(), reason="libvips is not installed")
RGB_PROFILES = {
    "p3": icc_profiles.display_p3(),
    "adobe": icc_profiles.adobe_rgb(),
    "prophoto": icc_profiles.prophoto(),
}
MAX_MEAN_DELTA_E = 1.0
MAX_LEVELS = 2


@functools.cache
def _picture() -> Image.Image:
    """Smooth gradients, saturated edges and sensor-like noise, the same in every run (fm.photo's noise is
    random in each call, and these thresholds compare runs of the two paths on the same pixels)."""
    width, height = 240, 180
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    base = np.asarray(Image.merge("RGB", (red, green, blue)), dtype=np.float64)
    noise = np.random.default_rng(5).normal(0.0, 24.0, base.shape)
    picture = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for i in range(6):
        x0, y0 = (i * width) // 7, (i * height) // 9
        draw.ellipse((x0, y0, x0 + width // 5, y0 + height // 4), outline=(250, 240 - i * 30, 20 + i * 40), width=3)
    return picture


def _tagged(source: str, profile: bytes, mode: str = "RGB") -> bytes:
    picture = _picture()
    if mode == "RGBA":
        picture = fm.with_alpha(picture)
    elif mode != "RGB":
        picture = picture.convert(mode)
    options = {"quality": 95} if source == "jpg" else {}
    data: bytes = fm.encode(picture, source, icc_profile=profile, **options)
    return data


def _pillow_pixels(data: bytes) -> np.ndarray:
    """What the Pillow path makes of the file's pixels: decoded, then colour.to_srgb."""
    register_heif()
    image = Image.open(fm.io.BytesIO(data))
    image.load()
    converted = to_srgb(image, icc_of(image))
    return np.asarray(converted.convert("RGBA" if converted.mode == "RGBA" else "RGB"))


def _libvips_pixels(data: bytes, source: str) -> np.ndarray:
    pixels = _vips_array(fast.prepare(data, source, "jpg", ImageOptions(), PRO))
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def _vips_array(prepared: tuple[Any, tuple[int, int]] | None) -> np.ndarray:
    assert prepared is not None, "left to Pillow"
    image, size = prepared
    assert (image.width, image.height) == size
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, image.bands))


def _assert_same_colours(ours: np.ndarray, reference: np.ndarray, *, levels: int | None = MAX_LEVELS) -> None:
    assert ours.shape == reference.shape
    delta_e = delta_e_2000(ours[..., :3], reference[..., :3])
    assert float(delta_e.mean()) <= MAX_MEAN_DELTA_E, f"mean ΔE2000 {delta_e.mean():.3f}"
    if levels is not None:
        worst = int(np.abs(ours.astype(int) - reference.astype(int)).max())
        assert worst <= levels, f"a channel off by {worst} levels"


@pytest.mark.parametrize("source", ["jpg", "png"])
@pytest.mark.parametrize("name", list(RGB_PROFILES))
def test_wide_gamut_rgb_is_converted_in_libvips_as_littlecms_does_in_pillow(source: str, name: str) -> None:
    data = _tagged(source, RGB_PROFILES[name])
    ours, reference = _libvips_pixels(data, source), _pillow_pixels(data)
    _assert_same_colours(ours, reference)
    # ...and the profile really moved the colours (the comparison is not between two untouched images).
    assert delta_e_2000(reference, np.asarray(decode(data).convert("RGB"))).mean() > 2


def test_alpha_survives_the_conversion() -> None:
    data = _tagged("png", RGB_PROFILES["p3"], mode="RGBA")
    ours, reference = _libvips_pixels(data, "png"), _pillow_pixels(data)
    assert ours.shape[2] == 4
    _assert_same_colours(ours, reference)
    assert np.array_equal(ours[..., 3], reference[..., 3])


def test_a_cmyk_jpeg_with_its_profile_is_converted_in_libvips() -> None:
    data = _tagged("jpg", icc_profiles.cmyk(), mode="CMYK")
    _assert_same_colours(_libvips_pixels(data, "jpg"), _pillow_pixels(data))


def test_a_grey_jpeg_with_its_profile_stays_grey() -> None:
    data = _tagged("jpg", icc_profiles.linear_grey(), mode="L")
    prepared = fast.prepare(data, "jpg", "jpg", ImageOptions(), PRO)
    assert prepared is not None and prepared[0].bands == 1  # one channel, as the Pillow path keeps it
    _assert_same_colours(_libvips_pixels(data, "jpg"), _pillow_pixels(data))
    assert decode(convert(data, "jpg").data).mode == "L"


def _outputs_delta_e(data: bytes, target: str, options: ImageOptions) -> float:
    """Mean ΔE2000 between the decoded outputs of the libvips and the Pillow path."""
    quick = fast.convert(data, "jpg", target, options, PRO)
    slow = convert_raster(data, "jpg", target, options, PRO)
    assert quick is not None and (quick.width, quick.height) == (slow.width, slow.height)
    ours, reference = np.asarray(decode(quick.data).convert("RGB")), np.asarray(decode(slow.data).convert("RGB"))
    return float(delta_e_2000(ours, reference).mean())


@pytest.mark.parametrize("name", list(RGB_PROFILES))
@pytest.mark.parametrize(("target", "quality"), [("jpg", None), ("webp", 90)])
def test_end_to_end_the_outputs_match_the_pillow_path(name: str, target: str, quality: int | None) -> None:
    """Encoded by each path's own encoder call: the colour criterion holds on what the user gets. (WebP at its
    default 80 turns the conversions' one-level differences into 0.9-1.0 ΔE by its own choices: at 90 the
    encoder's share is small enough to see the conversion's.)"""
    data = _tagged("jpg", RGB_PROFILES[name])
    assert _outputs_delta_e(data, target, ImageOptions(quality=quality)) <= MAX_MEAN_DELTA_E


@pytest.mark.parametrize("name", list(RGB_PROFILES))
@pytest.mark.parametrize("options", [ImageOptions(width=120), ImageOptions(width=100, height=100, fit="cover")])
def test_resized_the_colours_are_converted_after_the_shrink_as_littlecms_would(
    name: str, options: ImageOptions
) -> None:
    """libvips converts after its shrink-on-load: the same shrink of the same pixels without the profile,
    converted by the Pillow path's colour step, gives the same colours (the resamplers of the two paths
    differ by themselves, so they are kept out of this comparison)."""
    profile = RGB_PROFILES[name]
    untagged = fm.encode(_picture(), "jpg", quality=95)
    shrunk = _vips_array(fast.prepare(untagged, "jpg", "jpg", options, PRO))
    reference = np.asarray(to_srgb(Image.fromarray(shrunk), profile).convert("RGB"))
    ours = _vips_array(fast.prepare(_tagged("jpg", profile), "jpg", "jpg", options, PRO))
    _assert_same_colours(ours, reference)


def test_metadata_rules_are_unchanged() -> None:
    """Stripped (the default): no profile, no EXIF in the output. Kept: Pillow's path, profile and pixels
    together."""
    profile = RGB_PROFILES["p3"]
    exif = Image.Exif()
    exif[fm.MAKE_TAG] = "FileGateCam"
    data = fm.encode(fm.photo(120, 90), "jpg", icc_profile=profile, exif=exif.tobytes())
    stripped = decode(convert(data, "jpg").data)
    assert not stripped.info.get("icc_profile") and not stripped.getexif()
    assert fast.prepare(data, "jpg", "jpg", ImageOptions(strip_metadata=False), PRO) is None
    kept = decode(convert(data, "jpg", ImageOptions(strip_metadata=False)).data)
    assert kept.info.get("icc_profile") == profile


def test_an_srgb_profile_leaves_the_pixels_alone() -> None:
    data = _tagged("png", fm.srgb_icc())
    assert np.array_equal(_libvips_pixels(data, "png"), np.asarray(decode(data).convert("RGB")))


def test_a_profile_of_another_colour_space_is_ignored_as_in_pillow() -> None:
    """A CMYK profile on RGB pixels (a broken file): both paths leave the pixels as they are."""
    data = _tagged("png", icc_profiles.cmyk())
    assert np.array_equal(_libvips_pixels(data, "png"), _pillow_pixels(data))


def test_cmyk_without_a_profile_stays_with_pillow() -> None:
    data = fm.encode(fm.photo(64, 48).convert("CMYK"), "jpg")
    assert fast.prepare(data, "jpg", "jpg", ImageOptions(), PRO) is None


# --------------------------------------------------------------------------- HEIC (an iPhone's photos)


def _heic(profile: bytes | None, picture: Image.Image | None = None, fmt: str = "heic", **options: Any) -> bytes:
    extra = {"icc_profile": profile} if profile else {}
    data: bytes = fm.encode(picture or _picture(), fmt, quality=95, **extra, **options)
    return data


def test_a_display_p3_heic_is_converted_in_libvips_as_littlecms_does_in_pillow() -> None:
    """Both paths decode with libheif (pillow-heif): the pixels differ only by the colour conversion."""
    data = _heic(RGB_PROFILES["p3"])
    ours, reference = _libvips_pixels(data, "heic"), _pillow_pixels(data)
    _assert_same_colours(ours, reference)
    assert delta_e_2000(reference, np.asarray(decode(data).convert("RGB"))).mean() > 2
    quick = fast.convert(data, "heic", "jpg", ImageOptions(), PRO)
    assert quick is not None and not decode(quick.data).info.get("icc_profile")  # stripped, pixels converted


@pytest.mark.parametrize("options", [ImageOptions(width=120), ImageOptions(width=100, height=100, fit="cover")])
def test_a_resized_heic_is_converted_after_the_shrink_as_littlecms_would(options: ImageOptions) -> None:
    """As for JPEG above: the same shrink of the same pixels without the profile, converted by the Pillow
    path's colour step, gives the same colours; and the output has the Pillow path's size."""
    profile = RGB_PROFILES["adobe"]
    shrunk = _vips_array(fast.prepare(_heic(None), "heic", "jpg", options, PRO))
    reference = np.asarray(to_srgb(Image.fromarray(shrunk), profile).convert("RGB"))
    tagged = _heic(profile)
    _assert_same_colours(_vips_array(fast.prepare(tagged, "heic", "jpg", options, PRO)), reference)
    quick = fast.convert(tagged, "heic", "jpg", options, PRO)
    slow = convert_raster(tagged, "heic", "jpg", options, PRO)
    assert quick is not None and (quick.width, quick.height) == (slow.width, slow.height)


@pytest.mark.parametrize("fmt", ["heic", "heif"])
def test_a_heic_without_a_profile_and_with_alpha_keeps_its_pixels(fmt: str) -> None:
    data = _heic(None, fm.with_alpha(_picture()), fmt=fmt)
    ours, reference = _libvips_pixels(data, fmt), _pillow_pixels(data)
    assert ours.shape[2] == 4 and np.array_equal(ours, reference)


def test_a_rotated_heic_comes_out_as_the_pillow_path_turns_it() -> None:
    """The EXIF orientation becomes the file's own rotation (irot), which libheif applies in both paths."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _heic(RGB_PROFILES["p3"], exif=exif.tobytes())
    quick = fast.convert(data, "heic", "jpg", ImageOptions(quality=95), PRO)
    slow = convert_raster(data, "heic", "jpg", ImageOptions(quality=95), PRO)
    assert quick is not None and (quick.width, quick.height) == (slow.width, slow.height) == (180, 240)
    ours, reference = np.asarray(decode(quick.data).convert("RGB")), np.asarray(decode(slow.data).convert("RGB"))
    assert float(delta_e_2000(ours, reference).mean()) <= MAX_MEAN_DELTA_E


def test_a_heic_over_the_pixel_limit_is_refused_before_decoding_and_a_broken_one_fails() -> None:
    small = EngineLimits(max_pixels=20_000, max_pdf_pages=1)
    with pytest.raises(ConversionFailed, match="pixels"):
        fast.convert(_heic(None), "heic", "jpg", ImageOptions(), small)
    data = _heic(RGB_PROFILES["p3"])
    with pytest.raises(ConversionFailed):
        convert(data[: len(data) * 2 // 3], "jpg")


def delta_e_2000(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIEDE2000 between two arrays of 8-bit sRGB pixels (..., 3), per pixel (Sharma, Wu, Dalal 2005)."""
    lab1, lab2 = _lab(a), _lab(b)
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_mean = np.where(c1p * c2p == 0, h_sum, h_mean)
    t = (
        1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )  # fmt: skip
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    sc, sh = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    rc = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    rt = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * rc
    distance: np.ndarray = np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhp / sh) ** 2 + rt * (dc / sc) * (dhp / sh))
    return distance


def _lab(rgb: np.ndarray) -> np.ndarray:
    """8-bit sRGB to CIE Lab (D65)."""
    v = rgb.astype(np.float64) / 255
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)
