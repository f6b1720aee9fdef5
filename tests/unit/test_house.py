"""No room too big to read (issue 29): no function or method over 150 lines in the code we ship and run
(layers/, functions/, infra/, clients/). A longer one is split into named steps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("layers", "functions", "infra", "clients")
MAX_LINES = 150


def _sources() -> list[Path]:
    return sorted(
        path
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        if not {".venv", "node_modules", "build", "__pycache__"} & set(path.relative_to(ROOT).parts)
    )


def _long_functions(source: str, where: str) -> list[str]:
    """Each function (nested ones too) longer than MAX_LINES, decorators excluded, as "where:line name (n)"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_LINES:
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_sources_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"layers/common/filegate/dashboard/web.py", "clients/python/src/filegate_client/client.py"} <= names


def test_no_function_is_over_150_lines() -> None:
    found = [f for path in _sources() for f in _long_functions(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize(("body_lines", "too_long"), [(149, False), (150, True)])
def test_the_limit_counts_the_def_line_and_the_body(body_lines: int, too_long: bool) -> None:
    source = "def f():\n" + "    x = 1\n" * body_lines + "\n\nclass C:\n    async def g(self):\n        pass\n"
    assert bool(_long_functions(source, "x.py")) is too_long
