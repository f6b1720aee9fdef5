from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.document.office import Office
from filegate.engines.interface import Output, Source, Workspace
from filegate.tiers import TIERS, Tier


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


def convert(
    engine: DocumentEngine,
    workspace: Workspace,
    fmt: str,
    data: bytes,
    target: str,
    options: dict[str, object] | None = None,
    tier: Tier = TIERS["free"],
) -> Output:
    """One conversion through the engine's interface, as the worker runs it."""
    parsed = engine.parse_options(options or {}, source=fmt, target=target)
    plan = engine.plan(fmt, target, parsed, tier)
    return engine.run(Source(fmt, data=data), plan, parsed, tier, workspace, seconds=None)


def output_bytes(output: Output) -> bytes:
    if output.data is not None:
        return output.data
    assert output.path is not None
    return output.path.read_bytes()
