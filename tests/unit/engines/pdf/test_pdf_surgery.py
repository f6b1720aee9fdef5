"""The PDF tools on real PDFs (docs/pdf-tools.md): pages, rotate, passwords, PDF/A, in docs/pdf-tools.md's order. Pages
are moved, never re-rendered: their text stays text, their links and outline stay."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest
from pdf_helpers import TIERS, names_in, opened, page_texts, plan_of, run

from filegate.errors import FileTooLarge, InvalidParameter
from tests.helpers import pdf_samples as ps


def test_pages_keeps_these_pages_in_this_order_as_text(tmp_path: Path) -> None:
    out = run(ps.text_pdf(5), {"pages": "4,1-2"}, tmp_path)
    texts = page_texts(out.data or b"")
    assert [t.splitlines()[0] for t in texts] == ["Page 4", "Page 1", "Page 2"]
    assert out.metadata == {"kind": "document", "format": "pdf", "pages": 3}


def test_a_range_may_run_backwards_and_a_page_may_come_twice(tmp_path: Path) -> None:
    out = run(ps.text_pdf(4), {"pages": "3-1,3"}, tmp_path)
    assert [t.splitlines()[0] for t in page_texts(out.data or b"")] == ["Page 3", "Page 2", "Page 1", "Page 3"]


def test_pages_left_out_do_not_travel_in_the_output(tmp_path: Path) -> None:
    """Outline entries and links that pointed at them lose their target; the pages' content is gone."""
    out = run(ps.text_pdf(3), {"pages": "2"}, tmp_path)
    pdf = opened(out.data or b"")
    contents = b"".join(o.read_bytes() for o in pdf.objects if isinstance(o, pikepdf.Stream))
    assert b"page number 2" in contents and b"page number 1" not in contents and b"page number 3" not in contents
    with pdf.open_outline() as outline:
        titles = [(item.title, item.destination is not None) for item in outline.root]
    assert titles == [("Chapter 1", False), ("Chapter 2", True), ("Chapter 3", False)]


def test_pages_outside_the_pdf_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"^pages: page 9 is not in this PDF, which has pages 1 to 3"):
        run(ps.text_pdf(3), {"pages": "1,9"}, tmp_path)


def test_rotate_turns_every_page_clockwise_on_top_of_its_own_rotation(tmp_path: Path) -> None:
    source = opened(ps.text_pdf(2))
    source.pages[1].rotate(90, relative=False)
    out = run(ps.save(source), {"rotate": 270}, tmp_path)
    assert [int(p.obj.get("/Rotate", 0)) for p in opened(out.data or b"").pages] == [270, 0]
    assert page_texts(out.data or b"")[0].startswith("Page 1")


def test_rotate_applies_to_the_pages_kept(tmp_path: Path) -> None:
    out = run(ps.text_pdf(4), {"pages": "2-3", "rotate": 180}, tmp_path)
    assert [int(p.obj.get("/Rotate", 0)) for p in opened(out.data or b"").pages] == [180, 180]


def test_links_and_outline_stay(tmp_path: Path) -> None:
    out = run(ps.text_pdf(3), {"rotate": 90}, tmp_path)
    pdf = opened(out.data or b"")
    link = pdf.pages[0].obj.Annots[0]
    assert link.A.S == pikepdf.Name.URI and str(link.A.URI) == "https://example.com/"
    with pdf.open_outline() as outline:
        assert [item.title for item in outline.root] == ["Chapter 1", "Chapter 2", "Chapter 3"]


def test_password_encrypts_the_output_with_aes_256(tmp_path: Path) -> None:
    out = run(ps.text_pdf(2), {"password": "correct horse"}, tmp_path)
    with pytest.raises(pikepdf.PasswordError):
        opened(out.data or b"")
    pdf = opened(out.data or b"", password="correct horse")
    assert pdf.encryption.R == 6 and pdf.encryption.bits == 256
    assert pdf.encryption.stream_method == pikepdf.models.EncryptionMethod.aesv3
    assert page_texts(out.data or b"", "correct horse")[1].startswith("Page 2")


def test_input_password_opens_an_encrypted_pdf(tmp_path: Path) -> None:
    out = run(ps.encrypted_pdf("open sesame"), {"input_password": "open sesame", "pages": "2"}, tmp_path)
    assert page_texts(out.data or b"")[0].startswith("Page 2")
    assert not opened(out.data or b"").is_encrypted


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rotate": 90}, "the PDF is encrypted; send its password"),
        ({"rotate": 90, "input_password": "no"}, "does not open"),
    ],
)
def test_an_encrypted_pdf_without_its_password_is_invalid_parameter(
    tmp_path: Path, raw: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameter, match=f"^input_password: .*{message}"):
        run(ps.encrypted_pdf("open sesame"), raw, tmp_path)


def test_pdf_a_declares_pdf_a_2b_with_an_srgb_output_intent(tmp_path: Path) -> None:
    out = run(ps.text_pdf(2), {"pdf_a": True}, tmp_path)
    pdf = opened(out.data or b"")
    meta = pdf.open_metadata()
    assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
    intent = pdf.Root.OutputIntents[0]
    assert intent.S == pikepdf.Name.GTS_PDFA1 and intent.DestOutputProfile.N == 3
    assert b"acsp" in intent.DestOutputProfile.read_bytes()[:64]  # an ICC profile's signature
    assert not pdf.is_encrypted and "/JavaScript" not in names_in(out.data or b"")
    assert int(pdf.pages[0].obj.Annots[0].F) & 4  # links print


def test_every_pdf_produced_is_held_to_the_tiers_page_limit(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge, match="would have 60 pages; your plan allows at most 50"):
        run(ps.text_pdf(60, outline=False), {"rotate": 90}, tmp_path, tier=TIERS["free"])
    out = run(ps.text_pdf(60, outline=False), {"pages": "1-50"}, tmp_path, tier=TIERS["free"])
    assert out.metadata and out.metadata["pages"] == 50


def test_surgery_runs_in_the_request_and_costs_one_unit() -> None:
    plan = plan_of(ps.text_pdf(3), {"pages": "1", "rotate": 90, "pdf_a": True})
    assert (plan.units, plan.in_request, plan.target) == (1, True, "pdf")
    assert plan.estimated_seconds is not None and plan.estimated_seconds < 1
