"""Every PDF tool runs in a forked child with a deadline and a memory ceiling: a decompression bomb or a
graph that makes qpdf or pdfium work without end is killed, and the request or the worker goes on."""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import TypeVar

from filegate.engines.image.budget import run_within
from filegate.errors import ConversionFailed

T = TypeVar("T")

# What a tool may use on top of what the process already maps (Lambda's documents function has 3 GB+).
MEMORY_HEADROOM_BYTES = 1536 * 1024 * 1024
# A worker's run without a budget of its own still ends: well within Lambda's 15 minutes.
WORKER_SECONDS = 600.0


def run_isolated(work: Callable[[], T], seconds: float | None) -> T:
    """`work()` in a forked child killed past `seconds` (OverBudget) or past its memory ceiling
    (ConversionFailed)."""

    def bounded() -> T:
        _limit_memory(MEMORY_HEADROOM_BYTES)
        try:
            return work()
        except MemoryError as exc:
            raise ConversionFailed("The PDF needs more memory than a conversion may use.") from exc

    return run_within(bounded, WORKER_SECONDS if seconds is None else seconds)


def _limit_memory(headroom: int) -> None:
    """Cap the child's address space at what it maps now plus `headroom`."""
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    limit = mapped + headroom
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
