"""Child processes of the local stack (moto, workers) die with it, however it ends: they run in sessions of their
own (Ctrl-C reaches only the stack, which stops them in order), so a watchdog thread in each ends it, with what it
started, once its parent is gone (not PR_SET_PDEATHSIG: that fires when the *thread* that started the child exits).
`kill_trees` kills a worker with all it started, as Lambda's sandbox goes whole, LibreOffice and FFmpeg too (in
sessions of their own, out of the worker's group): it finds every descendant through /proc, freezing each level
(SIGSTOP) so none starts another."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

PARENT_PID_ENV = "FILEGATE_LOCAL_PARENT_PID"


def child_environment() -> dict[str, str]:
    """What to add to a child's environment so that `exit_with_parent` knows whom to watch."""
    return {PARENT_PID_ENV: str(os.getpid())}


def exit_with_parent() -> None:
    """In a child: end this process (and its children) as soon as the parent named in its environment is gone."""
    parent = os.environ.pop(PARENT_PID_ENV, None)  # not inherited by the function's own subprocesses

    def watch() -> None:
        while os.getppid() == int(parent or 0):
            time.sleep(0.25)
        kill_trees([pid for pid, ppid in parent_pids().items() if ppid == os.getpid()])
        os._exit(0)

    if parent is not None:  # else started by hand, not by the stack
        threading.Thread(target=watch, name="lifeline", daemon=True).start()


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process we can see."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # the name (2nd field) may hold ")" and spaces
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def kill_trees(roots: Iterable[int]) -> None:
    """SIGKILL `roots` (live, unreaped children of ours), their descendants and the process groups any of them lead."""
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
