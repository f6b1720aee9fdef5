"""The repository is its own reference: code and tests cite docs/ in the repo, and every cited page exists.

Nothing outside docs/ may point at a file beside the checkout (a reader of a clone does not have it), and a
comment that names ``docs/<page>.md`` names a page that is there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY_SUFFIXES = {".png", ".ico", ".jpg", ".jpeg", ".pdf", ".gz", ".zip", ".woff2"}
# The contract and the design by their old names, not preceded by "docs/" or by another path part.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared|(?<![\w/.])(?:API|DESIGN)\.md")
DOCS_PAGE = re.compile(r"(?<![\w.])docs/([\w-]+\.md)")


def _tracked_texts() -> list[tuple[str, str]]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = []
    for name in names:
        path = ROOT / name
        if path.suffix in BINARY_SUFFIXES or not path.is_file():
            continue
        try:
            texts.append((name, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    return texts


@pytest.fixture(scope="module")
def tracked_texts() -> list[tuple[str, str]]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return _tracked_texts()


def test_nothing_outside_docs_points_beside_the_checkout(tracked_texts: list[tuple[str, str]]) -> None:
    this_file = Path(__file__).resolve().relative_to(ROOT).as_posix()
    offenders = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for name, text in tracked_texts
        if name != this_file
        for match in OUTSIDE_REFERENCE.finditer(text)
    ]
    assert offenders == [], "point these at docs/api.md or docs/architecture.md:\n" + "\n".join(offenders)


def test_every_cited_docs_page_exists(tracked_texts: list[tuple[str, str]]) -> None:
    missing = sorted(
        {
            f"{name}: docs/{match.group(1)}"
            for name, text in tracked_texts
            for match in DOCS_PAGE.finditer(text)
            if not (ROOT / "docs" / match.group(1)).is_file()
        }
    )
    assert missing == [], "cited pages that docs/ does not have:\n" + "\n".join(missing)
