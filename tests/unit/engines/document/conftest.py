from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.document.office import Office
from filegate.engines.interface import Workspace


@pytest.fixture(scope="session")
def engine() -> Iterator[DocumentEngine]:
    """One warm LibreOffice for the session's document tests (as one worker keeps one)."""
    engine = DocumentEngine(Office())
    try:
        yield engine
    finally:
        engine.office.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)
