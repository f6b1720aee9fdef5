"""Killing a function worker with everything it started.

A worker leads a process group of its own, but what the functions start under it (LibreOffice, FFmpeg)
runs in sessions of its own, so that the function can kill it whole on a timeout: killing the worker's
group would leave those behind, re-parented to init, running for as long as their conversion lasts. On
Lambda the whole sandbox goes; here `kill_trees` finds every descendant first, freezing each level
(SIGSTOP) so that nothing starts a new process meanwhile, then kills them all, with the groups they lead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

MAX_DEPTH = 16  # process trees deeper than this are not ours


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process we can see (/proc where there is one, else `ps`)."""
    proc = Path("/proc")
    parents: dict[int, int] = {}
    if (proc / "self" / "stat").exists():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The command name (2nd field) may hold spaces and parentheses: split after its last ")".
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        return parents
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            pid, parent = (int(field) for field in line.split())
            parents[pid] = parent
    return parents


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def kill_trees(roots: Iterable[int]) -> list[int]:
    """SIGKILL `roots` (live, unreaped children of ours), all their descendants and the process groups any
    of them lead. Returns every pid it killed."""
    found = [pid for pid in roots]
    for pid in found:
        _signal(pid, signal.SIGSTOP)
    level = set(found)
    for _depth in range(MAX_DEPTH):
        parents = parent_pids()
        children = {pid for pid, parent in parents.items() if parent in level and pid not in found}
        if not children:
            break
        for pid in children:
            _signal(pid, signal.SIGSTOP)
        found.extend(children)
        level = children
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        _signal(pid, signal.SIGKILL)
    return found
