import pytest

from filegate.engines.image.limits import EngineLimits
from filegate.errors import InvalidParameter
from filegate.formats.options import ImageOptions, parse_quality
from filegate.tiers import TIERS


def test_defaults() -> None:
    opts = ImageOptions.from_form({})
    assert opts == ImageOptions()
    assert opts.strip_metadata is True and opts.fit == "contain" and opts.page == 1 and opts.quality is None


def test_form_values_are_strings() -> None:
    form = {
        "file": "ignored",
        "target": "webp",
        "quality": " 80 ",
        "width": "640",
        "height": "480",
        "fit": "COVER",
        "strip_metadata": "false",
        "page": "3",
    }
    assert ImageOptions.from_form(form) == ImageOptions(
        quality=80, width=640, height=480, fit="cover", strip_metadata=False, page=3
    )


def test_empty_form_values_are_unset() -> None:
    assert ImageOptions.from_form({"quality": "", "width": "  "}) == ImageOptions()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quality", "0"),
        ("quality", "101"),
        ("quality", "high"),
        ("quality", "-5"),
        ("quality", "8.5"),
        ("width", "0"),
        ("width", "99999"),
        ("width", "1e3"),
        ("height", "-1"),
        ("height", "١٢"),  # Unicode digits
        ("fit", "stretch"),
        ("strip_metadata", "maybe"),
        ("page", "0"),
        ("page", "x"),
    ],
)
def test_bad_form_values_name_the_field(field: str, value: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        ImageOptions.from_form({field: value})
    assert info.value.message.startswith(field)
    assert info.value.status == 422 and info.value.code == "invalid_parameter"


def test_json_options() -> None:
    opts = ImageOptions.from_json({"quality": 70, "width": 100, "fit": "cover", "strip_metadata": False})
    assert opts == ImageOptions(quality=70, width=100, fit="cover", strip_metadata=False)
    assert ImageOptions.from_json(None) == ImageOptions()
    assert ImageOptions.from_json(opts.to_json()) == opts


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"quality": "80"}, "options.quality"),
        ({"quality": True}, "options.quality"),
        ({"quality": 80.5}, "options.quality"),
        ({"quality": 0}, "options.quality"),
        ({"width": 20000}, "options.width"),
        ({"height": -3}, "options.height"),
        ({"fit": 3}, "options.fit"),
        ({"strip_metadata": "yes"}, "options.strip_metadata"),
        ({"page": 0}, "options.page"),
        ({"qualty": 80}, "options.qualty"),
    ],
)
def test_bad_json_names_the_field(obj: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        ImageOptions.from_json(obj)
    assert info.value.message.startswith(field)


def test_json_must_be_an_object() -> None:
    with pytest.raises(InvalidParameter, match=r"^options"):
        ImageOptions.from_json([1, 2])


def test_direct_construction_validates() -> None:
    with pytest.raises(InvalidParameter, match=r"^quality"):
        ImageOptions(quality=500)


def test_parse_quality() -> None:
    assert parse_quality(None) is None
    assert parse_quality("") is None
    assert parse_quality("55") == 55
    assert parse_quality(55) == 55
    for bad in ("0", "abc", 101, True):
        with pytest.raises(InvalidParameter, match=r"^quality"):
            parse_quality(bad)  # type: ignore[arg-type]


def test_limits_from_tier() -> None:
    free = EngineLimits.for_tier(TIERS["free"])
    assert free.max_pixels == TIERS["free"].max_pixels
    assert free.max_pdf_pages == TIERS["free"].max_pdf_pages
    assert free.max_render_pixels <= free.max_pixels
