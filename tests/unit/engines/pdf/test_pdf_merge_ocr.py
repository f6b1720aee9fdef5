"""Merge (PDFs as they are, images one per page, one top-level outline entry per input, a unit per input) and
OCR (a text layer over pages without text, pages with text untouched, a unit per started 10 pages read)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pdf_helpers import PRO, opened, page_texts, plan_of, run

from filegate.engines import Output, Plan, Source, Workspace
from filegate.engines.pdf import engine as pdf_engine
from filegate.engines.pdf import ocr
from filegate.engines.pdf.engine import MERGER, parse_merge_options, plan_merge, run_merge
from filegate.engines.pdf.merge import MergeInput
from filegate.errors import InvalidParameter, UnsupportedConversion
from filegate.tiers import Tier
from tests.helpers import media_samples as fm
from tests.helpers import pdf_samples as ps

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "judge",
    "boxing",
    "matches",
    "and",
    "pack",
    "my",
    "box",
    "with",
    "five",
    "dozen",
    "liquor",
    "jugs",
    "before",
    "sphinx",
    "of",
    "black",
    "quartz",
    "judges",
    "my",
    "vow",
]


def _merge(inputs: list[MergeInput], raw: dict[str, object] | None = None) -> bytes:
    return run_merge(inputs, parse_merge_options(raw or {}, form=False), PRO, seconds=60).data or b""


def _jpeg(size: tuple[int, int], dpi: int | None = None) -> bytes:
    out = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    fm.photo(*size).save(out, "JPEG", quality=85, **extra)
    return out.getvalue()


def test_merge_keeps_every_input_in_order_with_one_outline_entry_each() -> None:
    png = io.BytesIO()
    fm.with_alpha(fm.photo(300, 200)).save(png, "PNG")
    out = _merge(
        [
            MergeInput("pdf", ps.text_pdf(2), "report.pdf"),
            MergeInput("jpg", _jpeg((640, 480)), "photo.jpg"),
            MergeInput("png", png.getvalue(), "logo.png"),
            MergeInput("pdf", ps.text_pdf(1, outline=False), "appendix.pdf"),
        ]
    )
    pdf = opened(out)
    assert len(pdf.pages) == 5
    texts = page_texts(out)
    assert texts[0].startswith("Page 1") and texts[1].startswith("Page 2") and texts[4].startswith("Page 1")
    with pdf.open_outline() as outline:
        entries = [(item.title, [c.title for c in item.children]) for item in outline.root]
        pages = [pikepdf.Page(item.destination[0]).index for item in outline.root]
    assert entries == [
        ("report.pdf", ["Chapter 1", "Chapter 2"]),
        ("photo.jpg", []),
        ("logo.png", []),
        ("appendix.pdf", []),
    ]
    assert pages == [0, 2, 3, 4]
    assert str(pdf.pages[0].obj.Annots[0].A.URI) == "https://example.com/"  # links stay


def test_an_image_is_a_page_at_its_own_size_or_fitted_to_page_size() -> None:
    jpeg = _jpeg((1200, 600), dpi=300)  # 4 x 2 inches
    own = opened(_merge([MergeInput("jpg", jpeg, "a.jpg"), MergeInput("jpg", _jpeg((100, 50)), "b.jpg")]))
    assert [float(v) for v in own.pages[0].mediabox] == [0, 0, 288, 144]
    assert [float(v) for v in own.pages[1].mediabox] == [0, 0, 100, 50]  # no resolution: a pixel a point
    fitted = opened(_merge([MergeInput("jpg", jpeg, "a.jpg")], {"page_size": "a4"}))
    assert [round(float(v)) for v in fitted.pages[0].mediabox] == [0, 0, 842, 595]  # landscape image, landscape page
    letter = opened(_merge([MergeInput("jpg", _jpeg((600, 1200)), "a.jpg")], {"page_size": "letter"}))
    assert [float(v) for v in letter.pages[0].mediabox] == [0, 0, 612, 792]


def test_a_jpeg_is_embedded_as_it_is() -> None:
    jpeg = _jpeg((400, 300))
    pdf = opened(_merge([MergeInput("jpg", jpeg, "a.jpg")]))
    image = next(iter(pdf.pages[0].get_images().values()))
    assert image.Filter == pikepdf.Name.DCTDecode and image.read_raw_bytes() == jpeg


def test_a_merge_costs_a_unit_per_input_and_refuses_what_it_cannot_take() -> None:
    plan = plan_merge(["pdf", "jpg", "png"], parse_merge_options({}, form=False), [1000, 1000, 1000])
    assert (plan.units, plan.in_request, plan.target) == (3, True, "pdf")
    with pytest.raises(UnsupportedConversion, match=r"file\[1\]: mp4 cannot be merged"):
        plan_merge(["pdf", "mp4"], parse_merge_options({}, form=False), [1, 1])


class _TextToPdf:
    """Stands in for the document engine (LibreOffice, issue 23's branch) behind engine_for: each line of a
    text file becomes a page, written to a file as that engine writes its output."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.asked = workdir, list[tuple[str, str | None]]()

    def parse_options(self, raw: Mapping[str, Any] | None, *, source: str, target: str | None) -> object:
        self.asked.append((source, target))
        return object()

    def probe(self, source: Source, tier: Tier, workspace: Workspace | None) -> None:
        return None

    def plan(self, source_format: str, target: str | None, options: object, tier: Tier, probe: object) -> Plan:
        return Plan(source_format, "pdf", units=1, estimated_seconds=None, in_request=False)

    def run(
        self, source: Source, plan: Plan, options: object, tier: Tier, workspace: Workspace, *, seconds: float | None
    ) -> Output:
        pdf = pikepdf.new()
        for line in source.read().decode().splitlines():
            ps.text_page(pdf, [line])
        path = self.workdir / "converted.pdf"
        pdf.save(path)
        return Output("pdf", "application/pdf", path=path)


def test_documents_are_converted_first_by_their_engine_then_merged_in_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = _TextToPdf(tmp_path)
    monkeypatch.setattr(pdf_engine, "converted_first", lambda fmt: fmt == "txt")
    monkeypatch.setattr(MERGER, "engine_for", lambda source, target: documents)
    options = parse_merge_options({}, form=False)
    plan = MERGER.plan(["pdf", "txt", "jpg"], options, [1000, 20, 1000])
    # A unit per input; in the documents worker, whose image has the engine that converts them.
    assert (plan.units, plan.in_request) == (3, False)
    inputs = [
        (Source("pdf", data=ps.text_pdf(1, outline=False)), "a.pdf"),
        (Source("txt", data=b"minutes of the meeting\nactions agreed"), "notes.txt"),
        (Source("jpg", data=_jpeg((200, 100))), "c.jpg"),
    ]
    out = MERGER.run(inputs, options, PRO, Workspace(tmp_path), seconds=None).data or b""
    assert documents.asked == [("txt", "pdf")]
    texts = page_texts(out)
    assert len(texts) == 4
    assert "minutes of the meeting" in texts[1] and "actions agreed" in texts[2]
    with opened(out).open_outline() as outline:
        assert [(item.title, pikepdf.Page(item.destination[0]).index) for item in outline.root] == [
            ("a.pdf", 0),
            ("notes.txt", 1),
            ("c.jpg", 3),
        ]


def test_a_merge_can_be_encrypted() -> None:
    out = _merge([MergeInput("pdf", ps.text_pdf(1), "a.pdf")] * 2, {"password": "pw"})
    assert len(opened(out, password="pw").pages) == 2


def test_ocr_makes_a_scanned_page_searchable_and_keeps_typed_pages(tmp_path: Path) -> None:
    source = ps.scanned_pdf(WORDS, text_pages=1)
    out = run(source, {"ocr": True}, tmp_path).data or b""
    typed, scanned = page_texts(out)
    assert typed.strip() == "Typed page 1"
    found = set(scanned.lower().split())
    recall = len(found & set(WORDS)) / len(set(WORDS))
    assert recall >= 0.95, scanned
    before, after = opened(source), opened(out)
    assert after.pages[0].obj.Contents.read_bytes() == before.pages[0].obj.Contents.read_bytes()
    image = next(iter(after.pages[1].get_images().values()))
    assert (
        image.read_raw_bytes() == next(iter(before.pages[1].get_images().values())).read_raw_bytes()
    )  # not re-rendered


def test_ocr_is_priced_by_pages_that_need_it_and_runs_in_the_worker() -> None:
    scanned = pikepdf.new()
    for _ in range(11):
        ps.image_page(scanned, ps.rendered_text(["x"], size=(200, 280)))
    for _ in range(5):
        ps.text_page(scanned, ["typed"])
    data = ps.save(scanned)
    assert plan_of(data, {"ocr": True}).units == 2  # 11 pages need it: 2 started tens
    assert plan_of(data, {"ocr": True, "pages": "12-16"}).units == 1  # typed pages only: the least, 1
    assert plan_of(data, {"ocr": True, "pages": "1-10"}).units == 1
    assert plan_of(data, {"ocr": True}).in_request is False
    assert ocr.units_for(0) == 1 and ocr.units_for(10) == 1 and ocr.units_for(21) == 3


def test_ocr_languages_must_be_installed(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"^ocr_languages: 'xyz' is not available; choose from .*eng"):
        run(ps.scanned_pdf(["hello"]), {"ocr": True, "ocr_languages": "eng+xyz"}, tmp_path)


def test_ocr_reads_a_rotated_scan_upright(tmp_path: Path) -> None:
    pdf = opened(ps.scanned_pdf(WORDS[:16]))
    out = run(ps.save(pdf), {"rotate": 90, "ocr": True}, tmp_path).data or b""
    # The page is shown turned; pdfium gives its text in reading order whatever the turn.
    text = page_texts(out)[0].lower()
    assert len(set(text.split()) & set(WORDS[:16])) >= 13
