"""What the PDF engine needs where (template.yaml): FilesFunction and ImportFunction carry pikepdf (the PDF
layer) but not lxml (the XMP layer, only on the functions that write XMP: compress and PDF/A), so a PDF's
metadata and a PDF tool's plan must work without lxml."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import pdf_samples as ps

# Run in a fresh interpreter where `import lxml` fails, as on a function without the PDF layer.
WITHOUT_LXML = """
import sys
sys.modules["lxml"] = None  # an import of lxml (or lxml.etree) raises ImportError
from pathlib import Path
from filegate.engines import engine_for
from filegate.engines.interface import Source, Workspace
from filegate.formats.options import PdfOptions
from filegate.tiers import TIERS
"""


def _run_without_lxml(body: str, tmp_path: Path) -> str:
    script = WITHOUT_LXML + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_pdfs_metadata_and_a_pdf_tools_plan_need_no_lxml(tmp_path: Path) -> None:
    (tmp_path / "in.pdf").write_bytes(ps.text_pdf(3))
    out = _run_without_lxml(
        """
        engine = engine_for("pdf", None)  # what FilesFunction asks at complete
        print(engine.metadata(Source("pdf", path=Path("in.pdf")), Workspace(Path("."))))
        tools = engine_for("pdf", "pdf")  # what ImportFunction plans for a url job
        print(tools.plan("pdf", "pdf", PdfOptions(pages="2,1"), TIERS["pro"]).units)
        """,
        tmp_path,
    )
    assert "'pages': 3" in out and out.splitlines()[-1] == "1"
