"""Cold start: a fresh process whose first conversion is a photo (libvips end to end) loads only what that
conversion needs: neither Pillow nor the modules of the other paths (engines/image/engine.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from filegate.engines.image import vips
from tests.helpers import media_samples as fm

pytestmark = pytest.mark.skipif(not vips.available(), reason="libvips is not installed")
ROOT = Path(__file__).resolve().parents[4]
PILLOW_PATH_MODULES = ("PIL", "filegate.engines.image.raster", "filegate.engines.image.compression",
                       "filegate.engines.image.pdf", "filegate.engines.image.svg", "filegate.engines.image.decode")  # fmt: skip
FIRST_CONVERSION = """
import json, sys
from pathlib import Path
from filegate.engines.image.engine import convert
from filegate.formats.options import ImageOptions
loaded_by_import = sorted(sys.modules)
out = convert(Path(sys.argv[1]).read_bytes(), sys.argv[2], ImageOptions(width=64))
print(json.dumps({"import": loaded_by_import, "conversion": sorted(sys.modules), "format": out.format}))
"""


def _modules_of_a_fresh_process(tmp_path: Path, data: bytes, target: str) -> dict[str, list[str]]:
    source = tmp_path / "photo"
    source.write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-c", FIRST_CONVERSION, str(source), target],
        capture_output=True, text=True, check=True, timeout=120, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers" / "common"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    loaded = json.loads(run.stdout)
    assert loaded["format"] == target
    return {"import": loaded["import"], "conversion": loaded["conversion"]}


def _pillow_path(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in PILLOW_PATH_MODULES)]


@pytest.mark.parametrize(("source", "target"), [("jpg", "jpg"), ("jpg", "webp"), ("png", "jpg")])
def test_a_photo_first_loads_no_pillow(tmp_path: Path, source: str, target: str) -> None:
    loaded = _modules_of_a_fresh_process(tmp_path, fm.encode(fm.photo(320, 240), source), target)
    assert "pyvips" in loaded["import"]  # what the photo needs comes with the engine
    assert _pillow_path(loaded["conversion"]) == []


def test_a_gif_loads_the_pillow_pipeline_when_it_needs_it(tmp_path: Path) -> None:
    loaded = _modules_of_a_fresh_process(tmp_path, fm.encode(fm.photo(64, 48), "gif"), "png")
    assert _pillow_path(loaded["import"]) == []
    assert "PIL.Image" in loaded["conversion"] and "filegate.engines.image.raster" in loaded["conversion"]
