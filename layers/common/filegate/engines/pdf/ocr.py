"""OCR (docs/pdf-tools.md): an invisible, searchable text layer over the pages that have no text; pages with
text keep theirs, untouched. Each such page is rendered by pdfium, read by Tesseract (a subprocess with an
argument list, a time limit and one thread) into a text-only PDF page, and that page is laid over the original
as a form: the original's content stays as it was, bit for bit."""

from __future__ import annotations

import io
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from filegate.errors import ConversionFailed, InvalidParameter

OCR_DPI = 300
# A page rendered for OCR never exceeds this many pixels (a poster is read at a lower resolution).
MAX_OCR_PIXELS = 40_000_000
TESSERACT_SECONDS_PER_PAGE = 120
DEFAULT_LANGUAGES = "eng"
PAGES_PER_UNIT = 10  # docs/api.md §3: 1 unit per started 10 pages that needed OCR
TESSERACT = "tesseract"


def units_for(pages_needing_ocr: int) -> int:
    return max(1, math.ceil(pages_needing_ocr / PAGES_PER_UNIT))


def pages_without_text(data: bytes, password: str | None = None) -> list[int]:
    """0-based indexes of the pages of `data` (a PDF) from which pdfium extracts no text."""
    try:
        document = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        raise ConversionFailed("The PDF could not be read for OCR.") from exc
    try:
        found = []
        for index in range(len(document)):
            page = document[index]
            try:
                text = page.get_textpage()
                try:
                    if not text.get_text_range().strip():
                        found.append(index)
                finally:
                    text.close()
            finally:
                page.close()
        return found
    finally:
        document.close()


def installed_languages() -> frozenset[str]:
    result = subprocess.run([TESSERACT, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    return frozenset(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())


def check_languages(languages: str) -> None:
    """InvalidParameter naming ocr_languages for a language this machine's Tesseract does not have."""
    available = installed_languages() - {"osd"}
    for language in languages.split("+"):
        if language not in available:
            raise InvalidParameter(
                f"ocr_languages: {language!r} is not available; choose from {', '.join(sorted(available))}."
            )


def add_text_layer(
    pdf: pikepdf.Pdf,
    languages: str,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> int:
    """OCR every page of `pdf` without text, in place; how many pages were read."""
    check_languages(languages)
    buffer = io.BytesIO()
    pdf.save(buffer, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    rendered = buffer.getvalue()
    needing = pages_without_text(rendered)
    document = pdfium.PdfDocument(rendered)
    try:
        for done, index in enumerate(needing):
            layer = _read_page(document, index, languages, workdir)
            with pikepdf.open(io.BytesIO(layer)) as text_pdf:
                overlay = pdf.copy_foreign(text_pdf.pages[0].as_form_xobject())
                pdf.pages[index].add_overlay(overlay, None)
            if progress is not None:
                progress((done + 1) / max(1, len(needing)))
    finally:
        document.close()
    return len(needing)


def _read_page(document: pdfium.PdfDocument, index: int, languages: str, workdir: Path) -> bytes:
    """Tesseract's text-only PDF of one page, rendered upright as the page is shown."""
    page = document[index]
    try:
        width, height = page.get_size()
        scale = OCR_DPI / 72
        if width * height * scale * scale > MAX_OCR_PIXELS:
            scale = math.sqrt(MAX_OCR_PIXELS / (width * height))
        bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
        try:
            image = bitmap.to_pil().convert("L")
        finally:
            bitmap.close()
    finally:
        page.close()
    picture = workdir / f"ocr-{index}.png"
    image.save(picture, dpi=(scale * 72, scale * 72))
    base = workdir / f"ocr-{index}"
    command = [
        TESSERACT, str(picture), str(base), "-l", languages, "--dpi", str(round(scale * 72)),
        "-c", "textonly_pdf=1", "pdf",
    ]  # fmt: skip
    # Nothing of this process's environment reaches Tesseract (found on the default path, /usr/bin); one
    # thread: the worker's cores are its to share.
    env = {"OMP_THREAD_LIMIT": "1"}
    try:
        subprocess.run(
            command, capture_output=True, timeout=TESSERACT_SECONDS_PER_PAGE, check=True, env=env, cwd=workdir
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise ConversionFailed(f"OCR failed on page {index + 1}.") from exc
    finally:
        picture.unlink(missing_ok=True)
    output = base.with_suffix(".pdf")
    try:
        return output.read_bytes()
    finally:
        output.unlink(missing_ok=True)
