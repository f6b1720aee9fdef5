"""The shared package is layered: no import circle between modules nor between its folders, and the arrows
between conversions, engines, formats and files point one way (docs/architecture.md "Engines sit behind one
interface"). Imports inside functions count too."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "filegate"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> set[tuple[str, str]]:
    """(module imported, name imported from it or "") for each import of our package in `name`'s source."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(a.name, "") for a in node.names if a.name.startswith("filegate")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            if base.startswith("filegate"):
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    found.add((submodule, "") if submodule in MODULES else (base, alias.name))
    return found


GRAPH = {name: {m for m, _ in _imports(name) if m in MODULES and m != name} for name in MODULES}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of arrows in ``graph`` (each node's arrows to the nodes it imports), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _folder(name: str) -> str:
    """The package's folder a module lives in (filegate.keys.service → filegate.keys); a module on the ground
    floor (filegate.errors, filegate.context) is a room of its own."""
    parts = name.split(".")
    return ".".join(parts[:2])


def _folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    folders: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = _folder(module)
        folders.setdefault(here, set()).update(_folder(i) for i in imported if _folder(i) != here)
    return folders


def test_no_import_circle() -> None:
    assert _cycle(GRAPH) is None


def test_no_import_circle_between_folders() -> None:
    # A folder that imports another which imports it back (keys ↔ audit, once) is one room split in two: what
    # both need belongs on the ground floor (filegate.context) or in a folder both import.
    assert _cycle(_folder_graph(GRAPH)) is None


@pytest.mark.parametrize(
    ("graph", "circle"),
    [
        ({"filegate.a.x": {"filegate.b.y"}, "filegate.b.y": {"filegate.c"}, "filegate.b.z": {"filegate.a.w"}}, True),
        ({"filegate.a.x": {"filegate.a.y", "filegate.c"}, "filegate.a.y": {"filegate.c"}, "filegate.c": set()}, False),
        ({"filegate.c": {"filegate.a.x"}, "filegate.a.x": {"filegate.c"}}, True),
    ],
)
def test_a_circle_between_folders_is_found(graph: dict[str, set[str]], circle: bool) -> None:
    # Between folders only: a.x → b.y and b.z → a.w is a circle of folders though no module imports itself back.
    assert (_cycle(_folder_graph(graph)) is not None) is circle
    assert _cycle(graph) is None or circle


def test_conversions_name_no_engine() -> None:
    arrows = {
        (m, i)
        for m in MODULES
        if _within(m, "filegate.conversions")
        for i in GRAPH[m]
        if _within(i, "filegate.engines")
    }
    assert arrows and all(i == "filegate.engines" for _, i in arrows), arrows


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        (
            "filegate.engines",
            ("filegate.engines", "filegate.formats", "filegate.errors", "filegate.tiers", "filegate.suggest"),
        ),
        ("filegate.formats", ("filegate.formats", "filegate.errors", "filegate.suggest")),
    ],
)
def test_lower_layers_import_only_what_is_below_them(package: str, allowed: tuple[str, ...]) -> None:
    wrong = {
        (m, i) for m in MODULES if _within(m, package) for i in GRAPH[m] if not any(_within(i, a) for a in allowed)
    }
    assert wrong == set()


def test_files_never_import_job_code() -> None:
    assert {(m, i) for m in MODULES if _within(m, "filegate.files") for i in GRAPH[m] if "conversion" in i} == set()


def test_no_private_name_is_imported_from_another_module() -> None:
    private = {(m, f"{i}.{n}") for m in MODULES for i, n in _imports(m) if n.startswith("_")}
    assert private == set()


def test_the_audio_video_path_loads_no_imaging_library() -> None:
    # The media worker carries the FFmpeg layer and no imaging layer: choosing, planning and describing audio
    # and video must not import Pillow, libvips or pdfium, even lazily.
    code = (
        "import sys\n"
        "for name in ('PIL', 'pyvips', 'pypdfium2', 'pillow_heif'): sys.modules[name] = None\n"
        "from filegate.conversions import worker\n"
        "from filegate.engines import engine_for\n"
        "from filegate.formats.options import MediaOptions\n"
        "from filegate.tiers import TIERS\n"
        "engine = engine_for('mp4', 'mp3')\n"
        "options = engine.parse_options({'audio_bitrate': 64}, source='mp4', target='mp3', field='options.')\n"
        "assert engine.plan('mp4', 'mp3', options, TIERS['pro']).units == 1\n"
        "assert engine_for('gif', 'mp4').name == 'av'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
