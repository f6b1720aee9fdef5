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


# `docs/api.md "Long media"` or `docs/api.md §5 "Files"`: a citation of a section by its name.
CITED_SECTION = re.compile(r"docs/api\.md(?: §\d+)? \"([^\"]+)\"")
HEADING_TEXT = re.compile(r"^#+\s+(?:\d+\.\s+)?(.*?)\s*$", re.MULTILINE)


def test_every_cited_section_of_the_api_reference_is_a_heading(tracked_texts: list[tuple[str, str]]) -> None:
    headings = set(HEADING_TEXT.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8")))
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    cited = {
        (name, " ".join(word for word in match.group(1).split() if word != "#"))  # one name over comment lines
        for name, text in tracked_texts
        for match in CITED_SECTION.finditer(text)
    }
    # A heading, or a paragraph's lead-in ("Mistakes are loud:").
    missing = sorted(
        f"{name}: {section}" for name, section in cited if section not in headings and f"{section}:" not in page
    )
    assert missing == [], "docs/api.md has no section of that name:\n" + "\n".join(missing)
