"""The PDF tools against Ghostscript and OCRmyPDF, on real PDFs (docs/pdf-tools.md; issue 24's goals).

    .venv/bin/python tests/bench/bench_pdf_tools.py [--runs 3] [--max-files 24] [--only compress,merge,pages,ocr]

Inputs, cached under .bench-cache/pdf-tools/ (gitignored):
- the test PDFs of pikepdf's and pypdf's source distributions (`pip download --no-binary :all: --no-deps
  pikepdf pypdf`), those from 20 KB up, that Ghostscript and our engine both open;
- photo-heavy PDFs made from the real photographs in pikepdf's sdist (docs/images/*.jpg), each page one
  photograph at its full resolution as a high-quality JPEG under a line of text, as a phone's scan app or a
  slide export makes them.

compress: our /v1/compress (quality 75, 150 dpi) against `gs -dPDFSETTINGS=/ebook` and `/printer`, run
interleaved per file (median wall time of --runs); printed per file: size ratio (output/input) and mean
per-page SSIM (input and output rendered by pdftoppm at the same 72 dpi, grey, first 3 pages) for each, then
how often ours is smaller than /ebook at equal or better SSIM. Ghostscript is the bench's only (apt
`ghostscript`); the product never runs it.
merge: 100 pages (ten 10-page PDFs) merged, median wall time. pages/rotate: on a 1,000-page file, median.
ocr: three scanned pages of clean rendered text; word recall of the text layer, and time against `ocrmypdf`
(pip, bench only: the one on PATH, or OCRMYPDF=/path/to/ocrmypdf) on the same file, interleaved.
Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT)]

from filegate.engines import Source, Workspace, engine_for, merger  # noqa: E402
from filegate.tiers import TIERS  # noqa: E402
from tests.helpers import pdf_samples as ps  # noqa: E402

CACHE = ROOT / ".bench-cache" / "pdf-tools"
SDISTS = ("pikepdf", "pypdf")
MIN_INPUT_BYTES = 20_000
SSIM_DPI = 72
SSIM_PAGES = 3
TIER = TIERS["enterprise"]
WORDS = [
    "invoice",
    "payment",
    "received",
    "thank",
    "business",
    "customer",
    "account",
    "number",
    "amount",
    "balance",
    "statement",
    "period",
    "address",
    "street",
    "city",
    "country",
    "phone",
    "email",
    "website",
    "order",
    "quantity",
    "price",
    "total",
    "subtotal",
    "discount",
    "tax",
    "shipping",
    "delivery",
    "date",
    "reference",
    "description",
    "service",
    "product",
    "monthly",
    "annual",
    "report",
    "summary",
    "figure",
]


# --------------------------------------------------------------------------- inputs


def sdist_pdfs() -> list[Path]:
    """The sdists' test PDFs, downloaded and unpacked once."""
    archives = CACHE / "sdists"
    unpacked = CACHE / "unpacked"
    if not unpacked.exists():
        archives.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", *SDISTS,
             "-d", str(archives)],
            check=True,
        )  # fmt: skip
        unpacked.mkdir(parents=True)
        for archive in archives.glob("*.tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
    return sorted(p for p in unpacked.rglob("*.pdf") if p.stat().st_size >= MIN_INPUT_BYTES)


def photographs() -> list[Path]:
    sdist_pdfs()  # unpacks them
    return sorted((CACHE / "unpacked").glob("pikepdf-*/docs/images/*.jpg"))


def photo_pdfs() -> list[tuple[str, bytes]]:
    """Photo-heavy PDFs from real photographs: all of them in one, and each alone."""
    photos = [Image.open(p).convert("RGB") for p in photographs()]
    made = [("photos-all.pdf", ps.photo_pdf(photos, quality=95))]
    made += [
        (f"photo-{p.stem}.pdf", ps.photo_pdf([im], quality=95)) for p, im in zip(photographs(), photos, strict=True)
    ]
    return made


# --------------------------------------------------------------------------- runners


def ours_compress(data: bytes) -> bytes:
    engine = engine_for("pdf", None)
    options = engine.parse_options({}, source="pdf", target=None)
    source = Source("pdf", data=data)
    plan = engine.plan("pdf", None, options, TIER, engine.probe(source, TIER, None))
    with tempfile.TemporaryDirectory() as work:
        out = engine.run(source, plan, options, TIER, Workspace(Path(work)), seconds=300)
    return out.data or b""


def ghostscript(setting: str) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as work:
            source, target = Path(work) / "in.pdf", Path(work) / "out.pdf"
            source.write_bytes(data)
            subprocess.run(
                ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", f"-dPDFSETTINGS=/{setting}",
                 f"-sOutputFile={target}", str(source)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            return target.read_bytes()

    return run


def render(data: bytes, pages: int = SSIM_PAGES) -> list[np.ndarray]:
    """Grey pages at SSIM_DPI (pdftoppm: neither ours nor Ghostscript renders its own output)."""
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "in.pdf"
        source.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-gray", "-r", str(SSIM_DPI), "-l", str(pages), str(source), str(Path(work) / "p")],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        return [np.asarray(Image.open(p), dtype=np.float64) for p in sorted(Path(work).glob("p*.pgm"))]


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM of two grey images (box window; the standard constants for 8-bit pixels)."""
    if a.shape != b.shape:
        height, width = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = a[:height, :width], b[:height, :width]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def mean(x: np.ndarray) -> np.ndarray:
        summed = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), axis=0), axis=1)
        w = window
        total = summed[w:, w:] - summed[:-w, w:] - summed[w:, :-w] + summed[:-w, :-w]
        return total / (w * w)

    mu_a, mu_b = mean(a), mean(b)
    var_a, var_b = mean(a * a) - mu_a**2, mean(b * b) - mu_b**2
    cov = mean(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(value.mean())


def page_ssim(reference: list[np.ndarray], data: bytes) -> float:
    pages = render(data, len(reference))
    if len(pages) != len(reference):
        return float("nan")
    return statistics.fmean(ssim(r, p) for r, p in zip(reference, pages, strict=True))


def _run_tool(engine: Any, source: Source, options: Any, work: Path) -> Any:
    """One PDF tool run as a request or a worker runs it: probed, planned, run."""
    plan = engine.plan("pdf", "pdf", options, TIER, engine.probe(source, TIER, None))
    return engine.run(source, plan, options, TIER, Workspace(work), seconds=300)


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


# --------------------------------------------------------------------------- benches


def bench_compress(runs: int, max_files: int) -> None:
    inputs = [(p.name, p.read_bytes()) for p in sdist_pdfs()][:max_files] + photo_pdfs()
    tools: dict[str, Callable[[bytes], bytes]] = {
        "ours": ours_compress, "ebook": ghostscript("ebook"), "printer": ghostscript("printer")
    }  # fmt: skip
    header = f"{'file':42} {'KB':>7}  " + "  ".join(f"{t:>7} ratio  ssim    s" for t in tools)
    print("\n== compress: size ratio (output/input), mean per-page SSIM, median seconds\n" + header)
    wins = smaller = sharper = considered = 0
    ratios: dict[str, list[float]] = {t: [] for t in tools}
    for name, data in inputs:
        try:
            reference = render(data)
        except subprocess.CalledProcessError:
            continue
        rows: dict[str, tuple[float, float, float]] = {}
        times: dict[str, list[float]] = {t: [] for t in tools}
        outputs: dict[str, bytes] = {}
        try:
            for run in range(runs):  # interleaved, rotating who goes first
                order = list(tools)[run % len(tools) :] + list(tools)[: run % len(tools)]
                for tool in order:
                    seconds, out = timed(partial(tools[tool], data))
                    times[tool].append(seconds)
                    outputs[tool] = out  # type: ignore[assignment]
        except Exception as exc:  # a file one of them cannot open: say so, go on
            print(f"{name[:42]:42} skipped: {type(exc).__name__}")
            continue
        for tool, out in outputs.items():
            rows[tool] = (len(out) / len(data), page_ssim(reference, out), statistics.median(times[tool]))
        cells = "  ".join(f"{r:>13.3f} {s:5.3f} {t:5.2f}" for r, s, t in rows.values())
        print(f"{name[:42]:42} {len(data) / 1000:7.0f}  {cells}")
        considered += 1
        ours, ebook = rows["ours"], rows["ebook"]
        wins += ours[0] < ebook[0] and ours[1] >= ebook[1] - 0.005
        smaller += ours[0] < ebook[0]
        sharper += ours[1] >= ebook[1] - 0.005
        for tool, row in rows.items():
            ratios[tool].append(row[0])
    print(f"ours smaller than /ebook at equal or better SSIM (within 0.005): {wins} of {considered} files")
    print(f"ours smaller than /ebook: {smaller}; ours at equal or better SSIM than /ebook: {sharper}")
    print("median size ratio: " + ", ".join(f"{t} {statistics.median(r):.3f}" for t, r in ratios.items() if r))


def bench_merge(runs: int) -> None:
    parts = [ps.text_pdf(10) for _ in range(10)]
    tool = merger()
    options = tool.parse_options({}, form=False)
    inputs = [(Source("pdf", data=d), f"part-{i}.pdf") for i, d in enumerate(parts)]
    with tempfile.TemporaryDirectory() as work:
        seconds = [
            timed(lambda: tool.run(inputs, options, TIER, Workspace(Path(work)), seconds=60))[0] for _ in range(runs)
        ]
    print(f"\n== merge: 100 pages from 10 PDFs: median {statistics.median(seconds):.3f} s (min {min(seconds):.3f})")


def bench_pages(runs: int) -> None:
    engine = engine_for("pdf", "pdf")
    big = ps.many_pages_pdf(1_000)
    print("\n== pages and rotate on a 1,000-page PDF (median seconds)")
    for raw in ({"pages": "1000-1"}, {"pages": "1-10"}, {"rotate": 90}, {"pages": "2-999", "rotate": 180}):
        options = engine.parse_options(raw, source="pdf", target="pdf")
        source = Source("pdf", data=big)
        with tempfile.TemporaryDirectory() as work:
            seconds = [timed(partial(_run_tool, engine, source, options, Path(work)))[0] for _ in range(runs)]
        print(f"{raw!s:40} {statistics.median(seconds):.3f}")


def bench_ocr(runs: int) -> None:
    pdf = ps.pikepdf.new()
    for page in range(3):
        ps.image_page(pdf, ps.rendered_text(WORDS[page * 10 :] + WORDS[: page * 10]))
    scanned = ps.save(pdf)
    engine = engine_for("pdf", "pdf")
    options = engine.parse_options({"ocr": True}, source="pdf", target="pdf")
    source = Source("pdf", data=scanned)
    ocrmypdf = os.environ.get("OCRMYPDF") or shutil.which("ocrmypdf")
    ours_s: list[float] = []
    theirs_s: list[float] = []
    out = b""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "in.pdf").write_bytes(scanned)
        for _ in range(runs):
            seconds, result = timed(partial(_run_tool, engine, source, options, Path(work)))
            ours_s.append(seconds)
            out = result.data or b""  # type: ignore[attr-defined]
            if ocrmypdf:
                command = [ocrmypdf, "-q", "--jobs", "1", "--output-type", "pdf", "--optimize", "0",
                           str(Path(work) / "in.pdf"), str(Path(work) / "theirs.pdf")]  # fmt: skip
                theirs_s.append(timed(partial(subprocess.run, command, check=True, capture_output=True))[0])
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(out)
    found = set(" ".join(document[i].get_textpage().get_text_range() for i in range(len(document))).lower().split())
    recall = len(found & set(WORDS)) / len(set(WORDS))
    print(
        f"\n== ocr: 3 scanned pages (300 dpi, clean text): word recall {recall:.1%}; ours {statistics.median(ours_s):.2f} s"
    )
    if theirs_s:
        ratio = statistics.median(ours_s) / statistics.median(theirs_s)
        print(f"ocrmypdf {statistics.median(theirs_s):.2f} s (--jobs 1 --optimize 0); ours/ocrmypdf {ratio:.2f}x")
    else:
        print("ocrmypdf not found (pip install ocrmypdf, or OCRMYPDF=...): no time comparison")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-files", type=int, default=24)
    parser.add_argument("--only", default="compress,merge,pages,ocr")
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    if "compress" in chosen:
        if shutil.which("gs") is None:
            print("compress: Ghostscript (apt-get install ghostscript) is not installed: skipped")
        else:
            bench_compress(args.runs, args.max_files)
    if "merge" in chosen:
        bench_merge(max(5, args.runs))
    if "pages" in chosen:
        bench_pages(max(5, args.runs))
    if "ocr" in chosen:
        bench_ocr(args.runs)


if __name__ == "__main__":
    main()
