"""Killing a function worker with everything it started, as Lambda's sandbox goes whole. LibreOffice and FFmpeg
run in sessions of their own (so that the function can kill them on a timeout), out of the worker's group:
`kill_trees` finds every descendant through /proc, freezing each level (SIGSTOP) so none starts another."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process we can see."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # the name (2nd field) may hold ")" and spaces
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def kill_trees(roots: Iterable[int]) -> list[int]:
    """SIGKILL `roots` (live, unreaped children of ours), their descendants and the process groups any of
    them lead. Returns every pid it killed."""
    found: list[int] = []
    level = set(roots)
    while level:
        for pid in level:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        found.extend(level)
        level = {pid for pid, parent in parent_pids().items() if parent in level and pid not in found}
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
    return found
