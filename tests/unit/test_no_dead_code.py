"""Nothing public in the shared package or the SDK is defined and never used: dead code is deleted, not kept."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFINED_IN = ("layers/common/filegate", "clients/python/src/filegate_client")
USED_IN = (*DEFINED_IN, "functions", "infra", "tests")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _top_level_public_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def test_every_public_name_is_used_somewhere_else() -> None:
    uses: Counter[str] = Counter()
    for folder in USED_IN:
        for path in (ROOT / folder).rglob("*.py"):
            uses.update(_WORD.findall(path.read_text()))
    unused = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in DEFINED_IN
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _top_level_public_names(ast.parse(path.read_text()))
        if uses[name] <= 1  # its own definition only
    ]
    assert unused == []
