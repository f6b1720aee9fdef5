"""The one "did you mean" helper (docs/api.md §4 "Mistakes are loud")."""

from __future__ import annotations

import pytest

from filegate.errors import InvalidParameter
from filegate.suggest import check_names, closest, did_you_mean, unknown_parameter


@pytest.mark.parametrize(
    ("given", "choices", "meant"),
    [
        ("widht", ["width", "height", "quality"], "width"),
        ("wepb", ["webp", "png", "jpg"], "webp"),
        ("WEBP", ["webp", "png"], "webp"),
        ("file:read", ["files:read", "files:write", "keys:manage"], "files:read"),
        ("conversion.succeded", ["conversion.succeeded", "conversion.failed"], "conversion.succeeded"),
        ("limt", ["limit", "cursor"], "limit"),
        ("foo", ["width", "height"], None),
        ("x", [], None),
    ],
)
def test_closest_is_the_valid_name_meant_or_none(given: str, choices: list[str], meant: str | None) -> None:
    assert closest(given, choices) == meant
    assert (f"did you mean `{meant}`?" in did_you_mean(given, choices)) if meant else did_you_mean(given, choices) == ""


def test_an_unknown_name_is_422_naming_it_first_then_what_the_route_takes() -> None:
    error = unknown_parameter("widht", ["width", "height"], kind="form field")
    assert isinstance(error, InvalidParameter) and error.status == 422 and error.code == "invalid_parameter"
    assert error.message == "widht: unknown form field (did you mean `width`?); it takes: height, width."
    assert unknown_parameter("x", [], prefix="options.").message == "options.x: unknown parameter; it takes none."


def test_check_names_refuses_the_first_unknown_and_passes_known_ones() -> None:
    check_names(["width", "height"], ["width", "height", "fit"])
    with pytest.raises(InvalidParameter, match=r"^foo: unknown"):
        check_names(["width", "foo", "bar"], ["width"])
