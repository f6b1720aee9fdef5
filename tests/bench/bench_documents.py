"""The document engine (warm LibreOffice) against a fresh `soffice --convert-to pdf` per file and a warm
unoserver, on DOCX, XLSX and PPTX of 1, 10 and 50 pages.

    .venv/bin/python tests/bench/bench_documents.py [--runs 7] [--pages 1,10,50] [--kinds docx,xlsx,pptx]
                                                    [--throughput-seconds 30] [--no-unoserver]

Documents are made here (python-docx, openpyxl, python-pptx: tests/helpers/document_samples.py): one heading and a
paragraph of numbered words per page / sheet / slide. Each round converts every document with every
implementation, interleaved (a load spike on this shared machine hits all alike); printed per document and
implementation: the median wall time (min-max) over the rounds, from bytes in to a PDF on disk, and the
engine's ratios against the others. Then:
- cold start: a new LibreOffice started by the engine's Office (profile already baked), median of 3, and the
  one-off profile bake;
- pages per second with two workers (two Office processes converting the 10-page documents at once, this
  machine's two cores) for --throughput-seconds;
- fidelity of every PDF the engine made: every source word present in order in the PDF's text (extracted by
  poppler's pdftotext; the source words are the ones the generator wrote), and every font embedded
  (pdffonts).
unoserver (pip, pure Python) is installed with `pip --target .bench-cache/unoserver` on first use and run
under the Python that has LibreOffice's uno (XML-RPC and its UNO socket on 127.0.0.1). Figures only.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from filegate.engines.document import profile  # noqa: E402
from filegate.engines.document.engine import _IMPORT_FILTERS, DocumentEngine  # noqa: E402
from filegate.engines.document.office import Office, OfficeSettings, soffice_binary, uno_python  # noqa: E402
from filegate.engines.interface import Source, Workspace  # noqa: E402
from filegate.tiers import TIERS  # noqa: E402
from tests.helpers import document_samples as fd  # noqa: E402

CACHE = ROOT / ".bench-cache"
UNOSERVER = CACHE / "unoserver"


def make_document(kind: str, pages: int) -> bytes:
    if kind == "docx":
        return fd.docx_document(pages)
    if kind == "xlsx":
        return fd.xlsx_pages(pages)
    return fd.pptx_slides(pages)


def expected_words(kind: str, pages: int) -> list[str]:
    titles = {"pptx": "Slide", "docx": "Heading"}
    out: list[str] = []
    for page in range(1, pages + 1):
        if kind in titles:
            out.append(f"{titles[kind]} {page}")
        out += fd.words(page)
    return out


# ------------------------------------------------------------------------------------------- implementations


class EngineImpl:
    name = "engine (warm)"

    def __init__(self, workdir: Path) -> None:
        self.engine = DocumentEngine(Office())
        self.workdir = workdir
        self.engine.office.start()

    def convert(self, kind: str, data: bytes) -> bytes:
        options = self.engine.parse_options({}, source=kind, target="pdf")
        plan = self.engine.plan(kind, "pdf", options, TIERS["enterprise"])
        output = self.engine.run(
            Source(kind, data=data), plan, options, TIERS["enterprise"], Workspace(self.workdir), seconds=None
        )
        assert output.path is not None
        pdf = output.path.read_bytes()
        output.path.unlink()
        return pdf

    def stop(self) -> None:
        self.engine.office.stop()


class FreshSofficeImpl:
    """What a user scripts: `soffice --headless --convert-to pdf` per file (its own profile, kept between runs)."""

    name = "fresh soffice"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.profile = (workdir / "soffice-profile").as_uri()

    def convert(self, kind: str, data: bytes) -> bytes:
        source = self.workdir / f"fresh.{kind}"
        source.write_bytes(data)
        subprocess.run(
            ["soffice", f"-env:UserInstallation={self.profile}", "--headless", "--convert-to", "pdf",
             "--outdir", str(self.workdir), str(source)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        pdf = self.workdir / "fresh.pdf"
        out = pdf.read_bytes()
        pdf.unlink()
        return out

    def stop(self) -> None:
        pass


class UnoserverImpl:
    """unoserver warm; a kind it fails on (with Debian's LibreOffice 7.4 its load of openpyxl's XLSX aborts
    LibreOffice) is restarted once and then left out of its column."""

    name = "unoserver (warm)"

    def __init__(self, workdir: Path) -> None:
        self.failed: set[str] = set()
        self.workdir = workdir
        self.count = 0
        self._start()

    def _start(self) -> None:
        workdir = self.workdir
        if not (UNOSERVER / "unoserver").exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--target",
                    str(UNOSERVER),
                    "unoserver",
                ],
                check=True,
            )
        port, uno_port = free_port(), free_port()
        self.process = subprocess.Popen(
            [uno_python(), "-m", "unoserver.server", "--interface", "127.0.0.1", "--port", str(port),
             "--uno-interface", "127.0.0.1", "--uno-port", str(uno_port), "--executable", "soffice",
             "--user-installation", str(workdir / "unoserver-profile"), "--quiet"],
            env={"PYTHONPATH": str(UNOSERVER), "PATH": "/usr/bin:/bin", "HOME": str(workdir)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.client = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}", allow_none=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.client.info()
                break
            except (OSError, xmlrpc.client.Fault):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def convert(self, kind: str, data: bytes) -> bytes | None:
        if kind in self.failed:
            return None
        self.count += 1
        source, target = self.workdir / f"uno{self.count}.{kind}", self.workdir / "uno.pdf"
        source.write_bytes(data)
        try:
            self.client.convert(str(source), None, str(target), None, None, [], False, _IMPORT_FILTERS[kind])
        except (OSError, xmlrpc.client.Fault):
            self.failed.add(kind)
            self.stop()
            self._start()
            return None
        source.unlink()
        out = target.read_bytes()
        target.unlink()
        return out

    def stop(self) -> None:
        import os
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------------------------------ measures


def timed(work: Callable[[], bytes | None]) -> tuple[float, bytes | None]:
    began = time.perf_counter()
    out = work()
    return time.perf_counter() - began, out


def cold_start(workdir: Path) -> tuple[float, float]:
    """(median seconds to start a warm LibreOffice from the baked profile, seconds to bake a profile)."""
    began = time.perf_counter()
    profile.bake(workdir / "bake-once", soffice_binary())
    bake = time.perf_counter() - began
    starts = []
    for _ in range(3):
        office = Office(OfficeSettings(profile_template=workdir / "bake-once"))
        began = time.perf_counter()
        office.start()
        starts.append(time.perf_counter() - began)
        office.stop()
    return statistics.median(starts), bake


def throughput(documents: dict[tuple[str, int], bytes], seconds: float, workdir: Path) -> tuple[float, int]:
    """Pages per second of two workers converting the 10-page documents (or the largest given) at once."""
    pages = 10 if any(p == 10 for _, p in documents) else max(p for _, p in documents)
    chosen = [(kind, data) for (kind, p), data in documents.items() if p == pages]
    done = [0, 0]
    for index in range(2):
        (workdir / f"worker{index}").mkdir(exist_ok=True)
    engines = [EngineImpl(workdir / f"worker{i}") for i in range(2)]
    deadline = time.perf_counter() + seconds

    def work(index: int) -> None:
        turn = index
        while time.perf_counter() < deadline:
            kind, data = chosen[turn % len(chosen)]
            engines[index].convert(kind, data)
            done[index] += pages
            turn += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    for engine in engines:
        engine.stop()
    return sum(done) / wall, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pages", default="1,10,50")
    parser.add_argument("--kinds", default="docx,xlsx,pptx")
    parser.add_argument("--throughput-seconds", type=float, default=30.0)
    parser.add_argument("--no-unoserver", action="store_true")
    args = parser.parse_args()
    kinds, page_counts = args.kinds.split(","), [int(p) for p in args.pages.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    try:
        documents = {(kind, pages): make_document(kind, pages) for kind in kinds for pages in page_counts}
        cold, bake = cold_start(workdir)
        impls: list[EngineImpl | FreshSofficeImpl | UnoserverImpl] = [EngineImpl(workdir), FreshSofficeImpl(workdir)]
        if not args.no_unoserver:
            impls.append(UnoserverImpl(workdir))
        for impl in impls:  # one untimed conversion each: a warm start for the warm ones, the profile for soffice
            impl.convert("docx", fd.docx_document(1))
        times: dict[tuple[str, int, str], list[float]] = {}
        fidelity: dict[tuple[str, int], tuple[bool, bool]] = {}
        for _ in range(args.runs):
            for (kind, pages), data in documents.items():
                for impl in impls:
                    seconds, pdf = timed(lambda impl=impl, kind=kind, data=data: impl.convert(kind, data))
                    if pdf is None:  # this implementation failed on this kind
                        continue
                    times.setdefault((kind, pages, impl.name), []).append(seconds)
                    if isinstance(impl, EngineImpl) and (kind, pages) not in fidelity:
                        fonts = fd.pdf_fonts(pdf)
                        fidelity[(kind, pages)] = (
                            fd.in_order(fd.pdf_text(pdf), expected_words(kind, pages)),
                            bool(fonts) and all(embedded for _, embedded in fonts),
                        )
        for impl in impls:
            impl.stop()
        rate, rate_pages = throughput(documents, args.throughput_seconds, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    names = [impl.name for impl in impls]
    print(f"\nDocuments → PDF, median of {args.runs} interleaved runs, seconds (min-max)")
    header = f"{'document':<12}" + "".join(f"{n:>26}" for n in names) + f"{'fresh/engine':>14}"
    header += f"{'engine/unoserver':>18}" if "unoserver (warm)" in names else ""
    print(header)
    for kind in kinds:
        for pages in page_counts:
            row = f"{kind + ' ' + str(pages) + 'p':<12}"
            medians = {}
            for name in names:
                samples = times.get((kind, pages, name), [])
                if not samples:
                    row += "failed".rjust(26)
                    continue
                medians[name] = statistics.median(samples)
                row += f"{medians[name]:>10.2f} ({min(samples):.2f}-{max(samples):.2f})".rjust(26)
            if "fresh soffice" in medians and "engine (warm)" in medians:
                row += f"{medians['fresh soffice'] / medians['engine (warm)']:>13.1f}x"
            else:
                row += "-".rjust(14)
            if "unoserver (warm)" in medians and "engine (warm)" in medians:
                row += f"{medians['engine (warm)'] / medians['unoserver (warm)']:>17.2f}x"
            elif "unoserver (warm)" in names:
                row += "-".rjust(18)
            print(row)
    print(
        f"\ncold start (warm LibreOffice from the baked profile, median of 3): {cold:.2f} s; profile bake: {bake:.2f} s"
    )
    print(f"two workers, {rate_pages}-page documents interleaved: {rate:.1f} pages/s")
    print("\nfidelity of the engine's PDFs (words in order via pdftotext; fonts embedded via pdffonts)")
    for (kind, pages), (ordered, embedded) in fidelity.items():
        print(
            f"  {kind} {pages}p: words in order: {'yes' if ordered else 'NO'}; fonts embedded: {'yes' if embedded else 'NO'}"
        )


if __name__ == "__main__":
    main()
