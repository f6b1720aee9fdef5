"""Hostile PDFs (docs/pdf-tools.md): processed without running anything, their actions, JavaScript and
embedded files absent from every output (checked on the output's objects), never a hang; what cannot be
parsed is conversion_failed."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from pdf_helpers import PRO, TIERS, every_object, names_in, opened, run

from filegate.engines.interface import OverBudget
from filegate.engines.pdf.engine import parse_merge_options, run_merge
from filegate.engines.pdf.isolation import run_isolated
from filegate.engines.pdf.merge import MergeInput
from filegate.errors import ConversionFailed, FileTooLarge
from tests.helpers import pdf_samples as ps

# Keys and names that only exist to run or open something.
RUNNABLE = {
    "/JS",
    "/JavaScript",
    "/Launch",
    "/OpenAction",
    "/AA",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/EF",
    "/FileAttachment",
}


def _through_every_tool(data: bytes, workdir: Path) -> dict[str, bytes]:
    merged = run_merge([MergeInput("pdf", data, "hostile.pdf")], parse_merge_options({}, form=False), PRO, seconds=30)
    return {
        "rotate": run(data, {"rotate": 90}, workdir).data or b"",
        "pages": run(data, {"pages": "1,1"}, workdir).data or b"",
        "pdf_a": run(data, {"pdf_a": True}, workdir).data or b"",
        "compress": run(data, {"quality": 50}, workdir, target=None).data or b"",
        "merge": merged.data or b"",
    }


@pytest.mark.parametrize("name", sorted(ps.HOSTILE))
def test_actions_javascript_and_embedded_files_are_dropped_from_every_output(name: str, tmp_path: Path) -> None:
    source = ps.HOSTILE[name]()
    if name != "cycles":
        assert names_in(source) & RUNNABLE  # the sample really carries what it says
    for tool, out in _through_every_tool(source, tmp_path).items():
        assert not names_in(out) & RUNNABLE, tool
        assert b"app.alert" not in out and b"cmd.exe" not in out and b"not really a program" not in out, tool
        pdf = opened(out)
        actions = [o for o in every_object(pdf) if isinstance(o, pikepdf.Dictionary) and "/S" in o and "/Type" not in o]
        assert {str(a.S) for a in actions if "/URI" in a or "/D" in a} <= {"/URI", "/GoTo"}, tool


def test_web_links_survive_defusing(tmp_path: Path) -> None:
    out = run(ps.cyclic_pdf(), {"rotate": 90}, tmp_path).data or b""
    pdf = opened(out)
    link = pdf.pages[0].obj.Annots[0]
    assert str(link.A.URI) == "https://example.com/"


def test_reference_cycles_end(tmp_path: Path) -> None:
    outputs = _through_every_tool(ps.cyclic_pdf(), tmp_path)
    assert all(len(opened(out).pages) >= 1 for out in outputs.values())


def test_a_decompression_bomb_is_never_inflated(tmp_path: Path) -> None:
    """4 GB of zeros behind a 4 MB stream, as page content and as a 64x64 image: every tool finishes (in the
    isolated child, with its memory ceiling), and the bomb's bytes are carried as they came, never inflated."""
    source = ps.bomb_pdf(4096)
    bomb = ps.zeros_bomb(4096)
    assert len(source) < 10_000_000 and bomb in source
    for tool, out in _through_every_tool(source, tmp_path).items():
        assert len(out) < 2 * len(source), tool
        assert bomb in out, tool


def test_ten_thousand_pages_are_refused_past_the_tier_and_cheap_to_cut(tmp_path: Path) -> None:
    source = ps.many_pages_pdf(10_000)
    with pytest.raises(FileTooLarge, match="10000 pages"):
        run(source, {"rotate": 90}, tmp_path)
    # The tools' page limit is the tier's max_document_pages (what they make is a PDF): enterprise's 10,000
    # takes this file, one page fewer does not.
    with pytest.raises(FileTooLarge):
        run(source, {}, tmp_path, target=None, tier=replace(TIERS["enterprise"], max_document_pages=9_999))
    out = run(source, {"pages": "9998-10000"}, tmp_path)
    assert len(opened(out.data or b"").pages) == 3 and len(out.data or b"") < 10_000


@pytest.mark.parametrize(
    "damaged",
    [
        ps.truncated_pdf,
        lambda: b"%PDF-1.7\n%\xe2\xe3\n1 0 obj <</Type /Catalog /Pages 2 0 R",
        lambda: b"%PDF-1.4\n" + bytes(2048),
    ],
)
def test_what_cannot_be_parsed_is_conversion_failed(damaged: Callable[[], bytes], tmp_path: Path) -> None:
    for raw, target in (({"rotate": 90}, "pdf"), ({}, None)):
        with pytest.raises(ConversionFailed):
            run(damaged(), raw, tmp_path, target=target)


def test_a_truncated_pdf_whose_pages_can_be_recovered_is_recovered(tmp_path: Path) -> None:
    data = ps.text_pdf(3)
    out = run(data[: len(data) - 200], {"rotate": 90}, tmp_path)  # the cross-reference table is gone
    assert len(opened(out.data or b"").pages) >= 1


def test_a_run_past_its_seconds_is_stopped() -> None:
    def forever() -> None:
        while True:
            pass

    with pytest.raises(OverBudget):
        run_isolated(forever, 0.5)


def test_a_run_past_its_memory_ceiling_fails_the_conversion_and_nothing_else() -> None:
    def hungry() -> bytes:
        return bytes(8 << 30)  # 8 GB: past the ceiling

    with pytest.raises(ConversionFailed):
        run_isolated(hungry, 30)
    assert run_isolated(lambda: len(io.BytesIO(b"still fine").getvalue()), 30) == 10


def test_a_pdf_that_stalls_its_probe_is_conversion_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe reads the file in the isolated child too; past its seconds (none here) the file is refused."""
    from filegate.engines.interface import Source
    from filegate.engines.pdf import engine as pdf_engine

    monkeypatch.setattr(pdf_engine, "_PROBE_SECONDS", 0)
    with pytest.raises(ConversionFailed, match="could not be read in time"):
        pdf_engine.ENGINE.probe(Source("pdf", data=ps.text_pdf(1)), PRO, None)
