"""Colour: non-sRGB pixels are converted to sRGB (LittleCMS) before their profile is dropped."""

from __future__ import annotations

import io

import pytest
from conversion_helpers import decode
from PIL import Image, ImageChops, ImageCms

from filegate.engines.image.engine import compress, convert
from filegate.formats.options import ImageOptions
from tests.helpers import icc_profiles
from tests.helpers import media_samples as fm


def _reference(image: Image.Image, icc: bytes, out_mode: str = "RGB") -> Image.Image:
    """What LittleCMS itself makes of the pixels: the profile's colours expressed in sRGB."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    assert converted is not None
    return converted


def _max_difference(a: Image.Image, b: Image.Image) -> int:
    bands = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getextrema()
    return max(high for _low, high in bands)  # type: ignore[misc]


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return fm.photo(96, 64, seed=3)


@pytest.mark.parametrize("profile", [icc_profiles.display_p3(), icc_profiles.adobe_rgb()], ids=["p3", "adobe"])
def test_wide_gamut_png_is_converted_to_srgb(picture: Image.Image, profile: bytes) -> None:
    tagged = fm.encode(picture, "png", icc_profile=profile)
    out = decode(convert(tagged, "png").data)
    assert not out.info.get("icc_profile")
    assert _max_difference(out, _reference(picture, profile)) <= 1
    # ...and that is not what the untagged pixels give: the conversion really moved colours.
    assert _max_difference(out, picture) > 8


def test_profile_named_srgb_is_still_converted_when_it_is_not(picture: Image.Image) -> None:
    profile = icc_profiles.display_p3(name="sRGB IEC61966-2.1")
    out = decode(convert(fm.encode(picture, "png", icc_profile=profile), "png").data)
    assert _max_difference(out, _reference(picture, profile)) <= 1


def test_an_srgb_profile_leaves_pixels_alone(picture: Image.Image) -> None:
    out = decode(convert(fm.encode(picture, "png", icc_profile=fm.srgb_icc()), "png").data)
    assert _max_difference(out, picture) == 0


def test_p3_jpeg_to_webp_and_jpeg_are_close_to_the_reference(picture: Image.Image) -> None:
    profile = icc_profiles.display_p3()
    tagged = fm.encode(picture, "jpg", quality=95, icc_profile=profile)
    decoded = decode(tagged).convert("RGB")
    for target in ("jpg", "webp", "avif"):
        out = decode(convert(tagged, target, ImageOptions(quality=95)).data).convert("RGB")
        assert not out.info.get("icc_profile")
        assert _max_difference(out, _reference(decoded, profile)) < _max_difference(out, decoded)


def test_profile_and_pixels_kept_together_when_metadata_is_kept(picture: Image.Image) -> None:
    profile = icc_profiles.adobe_rgb()
    out = decode(
        convert(fm.encode(picture, "png", icc_profile=profile), "png", ImageOptions(strip_metadata=False)).data
    )
    assert out.info.get("icc_profile") == profile
    assert _max_difference(out, picture) == 0


def test_kept_profile_on_a_target_that_cannot_carry_it_is_converted(picture: Image.Image) -> None:
    profile = icc_profiles.display_p3()
    result = convert(fm.encode(picture, "png", icc_profile=profile), "bmp", ImageOptions(strip_metadata=False))
    assert _max_difference(decode(result.data), _reference(picture, profile)) <= 1


def test_rgba_keeps_alpha_through_the_conversion(picture: Image.Image) -> None:
    rgba = fm.with_alpha(picture)
    profile = icc_profiles.display_p3()
    out = decode(convert(fm.encode(rgba, "png", icc_profile=profile), "png").data)
    assert out.mode == "RGBA"
    assert out.getchannel("A").tobytes() == rgba.getchannel("A").tobytes()
    assert _max_difference(out, _reference(rgba, profile, "RGBA")) <= 1


def test_grey_with_profile_is_converted_and_stays_grey() -> None:
    ramp = Image.frombytes("L", (256, 4), bytes(range(256)) * 4)
    profile = icc_profiles.linear_grey()
    out = decode(convert(fm.encode(ramp, "png", icc_profile=profile), "png").data)
    assert out.mode == "L"
    assert _max_difference(out, _reference(ramp, profile)) <= 1
    assert out.getpixel((128, 0)) > 180  # linear mid-grey is light in sRGB


def test_sixteen_bit_grey_with_profile_is_converted() -> None:
    ramp = Image.frombytes("I;16", (256, 1), b"".join((v * 257).to_bytes(2, "little") for v in range(256)))
    profile = icc_profiles.linear_grey()
    out = decode(convert(fm.encode(ramp, "png", icc_profile=profile), "png").data)
    eight_bit = Image.frombytes("L", (256, 1), bytes(range(256)))
    assert _max_difference(out, _reference(eight_bit, profile)) <= 1


def test_palette_png_with_profile_is_converted() -> None:
    picture = fm.photo(48, 32, seed=5).quantize(64)
    profile = icc_profiles.adobe_rgb()
    out = decode(convert(fm.encode(picture, "png", icc_profile=profile), "png").data)
    assert _max_difference(out, _reference(picture.convert("RGB"), profile)) <= 1


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # full magenta and yellow ink: red
    for target in ("png", "webp"):
        out = decode(convert(fm.encode(cmyk, "jpg", quality=95), target).data).convert("RGB")
        r, g, b = out.getpixel((16, 16))  # type: ignore[misc]
        assert r > 230 and g < 30 and b < 30


def test_compress_converts_wide_gamut_too(picture: Image.Image) -> None:
    profile = icc_profiles.display_p3()
    result = compress(fm.encode(picture, "png", icc_profile=profile))
    out = decode(result.data)
    assert not out.info.get("icc_profile")
    assert _max_difference(out, _reference(picture, profile)) <= 1
