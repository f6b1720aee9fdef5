"""The tests keep house: what they share lives in tests/helpers (or a folder's own helper module), no test file
imports another test file, and tests/' root holds folders only."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports by absolute name (`from a.b import c` also as `a.b.c`)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def imported_test_modules(source: str) -> set[str]:
    """The test modules (`tests.….test_*`) a source imports."""
    return {name for name in imported_modules(source) if name.startswith("tests.") and _is_test_module(name)}


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def test_no_test_file_imports_another() -> None:
    offenders = sorted(
        (path.relative_to(TESTS).as_posix(), module)
        for path in TESTS.rglob("*.py")
        for module in imported_test_modules(path.read_text(encoding="utf-8"))
    )
    assert offenders == [], "move what they share into tests/helpers"


def test_the_root_of_tests_holds_no_loose_modules() -> None:
    loose = sorted(path.name for path in TESTS.glob("*.py") if path.name != "__init__.py")
    assert loose == [], "shared test code goes in tests/helpers"


def test_the_import_reader_finds_test_modules() -> None:
    source = "from tests.unit.test_template import ROOT\nfrom tests.unit import test_deploy\nimport tests.helpers.tls\n"
    assert imported_test_modules(source) == {"tests.unit.test_template", "tests.unit.test_deploy"}
