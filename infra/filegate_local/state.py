"""`<state-dir>/stack.json`: where a running local stack is (ports, endpoints, resource names, outputs).

The stack writes it before it answers its first request and removes it first thing when it stops, so a
stack that answers can always be found (`filegate-admin --local`, a second stack's "already running").
Standard library only: the admin tool imports this without the stack.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STATE_FILE_NAME = "stack.json"


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE_NAME


def write_state(state_dir: Path, state: Mapping[str, Any]) -> None:
    """Write the whole file or nothing: a reader sees the old file, no file, or the new one, never a part."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_file(state_dir)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # per process: two stacks never share one
    try:
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """What the stack in state_dir wrote, or None if there is none."""
    try:
        state = json.loads(state_file(state_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(state, dict):
        raise ValueError(f"{state_file(state_dir)} is not a local stack's state")
    return state


def remove_state(state_dir: Path, state: Mapping[str, Any]) -> None:
    """Remove the file if it is still the one `state` describes (not a stack started since on this dir)."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        current = read_state(state_dir)
        if current is not None and all(current.get(k) == state.get(k) for k in ("pid", "gateway_endpoint")):
            state_file(state_dir).unlink()
