"""`make smoke` against the local stack: the README's walk-through (tests/e2e) with the session's stack as
BASE_URL and filegate-admin --local on its state, in a pytest of its own, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_walk_through_passes_against_the_local_stack(stack: Any) -> None:
    environment = {
        **os.environ,
        "BASE_URL": stack.url,
        "ADMIN_ENV": "local",
        "ADMIN_STATE_DIR": str(stack.state_dir),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout  # every step ran: none skipped
