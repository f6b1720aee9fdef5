"""`<state-dir>/stack.json`: where a running local stack is. The stack writes it before it answers its first
request and removes it first when it stops, so a stack that answers can be found (`filegate-admin --local`, a
second stack's "already running"). Standard library only: the admin tool imports it without the stack."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    """All or nothing: a reader sees the old file, no file, or the new one, never a part."""
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = state_dir / f".stack.json.{os.getpid()}.tmp"  # per process: two stacks never share one
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, state_file(state_dir))


def read_state(state_dir: Path) -> dict[str, Any] | None:
    with contextlib.suppress(FileNotFoundError):
        return dict(json.loads(state_file(state_dir).read_text(encoding="utf-8")))
    return None


def remove_state(state_dir: Path, state: dict[str, Any]) -> None:
    """Remove the file if it is still the one `state` describes (not a stack started since on this dir)."""
    with contextlib.suppress(OSError, ValueError):
        current = read_state(state_dir) or {}
        if all(current.get(key) == state[key] for key in ("pid", "api_url")):
            state_file(state_dir).unlink()
