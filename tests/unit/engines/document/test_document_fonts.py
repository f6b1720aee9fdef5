"""docs/api.md "Documents": Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, CJK and emoji render, never as
an empty box: every font embedded, every script's text extractable, each set in a font that has its glyphs."""

from __future__ import annotations

import pytest
from document_helpers import convert, output_bytes

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.interface import Workspace
from tests.helpers import document_samples as fd

# The families that carry each script's glyphs (Noto: fonts-noto-*, -cjk, -color-emoji; DejaVu has Arabic and
# Hebrew too).
FONT_FOR = {
    "arabic": ("Arabic", "DejaVu"),
    "hebrew": ("Hebrew", "DejaVu"),
    "devanagari": ("Devanagari",),
    "thai": ("Thai",),
    "cjk": ("CJK",),
    "emoji": ("Emoji",),
}
# What LibreOffice falls back to when no installed font has a glyph (the empty box).
FALLBACKS = ("OpenSymbol", "LastResort")


@pytest.fixture(scope="module")
def multi_script_pdf(engine: DocumentEngine, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    paragraphs = "".join(f"<p>{script}: {sample}</p>" for script, sample in fd.SCRIPTS.items())
    page = f'<html><head><meta charset="utf-8"></head><body>{paragraphs}</body></html>'.encode()
    html_docx = convert(engine, Workspace(tmp_path_factory.mktemp("fonts")), "html", page, "docx")
    return output_bytes(
        convert(engine, Workspace(tmp_path_factory.mktemp("fonts")), "docx", output_bytes(html_docx), "pdf")
    )


def test_every_font_is_embedded(multi_script_pdf: bytes) -> None:
    fonts = fd.pdf_fonts(multi_script_pdf)
    assert fonts and [name for name, embedded in fonts if not embedded] == []


@pytest.mark.parametrize("script", [s for s in fd.SCRIPTS if s != "emoji"])
def test_every_script_is_text_in_the_pdf(multi_script_pdf: bytes, script: str) -> None:
    extracted = "".join(fd.pdf_text(multi_script_pdf).split())
    assert "".join(fd.SCRIPTS[script].split()) in extracted


@pytest.mark.parametrize("script", list(FONT_FOR))
def test_every_script_is_set_in_a_font_that_has_its_glyphs(multi_script_pdf: bytes, script: str) -> None:
    names = [name for name, _ in fd.pdf_fonts(multi_script_pdf)]
    assert any(family in name for name in names for family in FONT_FOR[script]), names
    assert not [name for name in names if any(fallback in name for fallback in FALLBACKS)]
