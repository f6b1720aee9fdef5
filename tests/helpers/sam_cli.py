"""The SAM CLI's own sample events (`sam local generate-event ...`), to hold ours to the shapes AWS sends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.helpers.local_stack import ROOT


def sam_event(*args: str) -> dict[str, Any]:
    """`sam local generate-event ...` from $SAM_CLI, the Makefile's .venv-sam, or sam on PATH (else a skip)."""
    candidates = (os.environ.get("SAM_CLI"), str(ROOT / ".venv-sam" / "bin" / "sam"), shutil.which("sam"))
    sam = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if sam is None:
        pytest.skip("the SAM CLI is not installed (make sam-venv)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    out = subprocess.run([sam, "local", "generate-event", *args], capture_output=True, check=True, timeout=120, env=env)
    return json.loads(out.stdout)  # type: ignore[no-any-return]
