"""Converting through the document engine's interface as the worker does (the tests' one way in)."""

from __future__ import annotations

from filegate.engines.document.engine import DocumentEngine
from filegate.engines.interface import Output, Source, Workspace
from filegate.tiers import TIERS, Tier


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
