"""Child processes of the local stack (moto, workers) die with it, however it ends: they run in sessions of their
own (Ctrl-C reaches only the stack, which stops them in order), so a watchdog thread in each ends it, with what
it started, once its parent is gone. Not PR_SET_PDEATHSIG: that fires when the *thread* that started the
child exits, and workers are started from request threads."""

from __future__ import annotations

import os
import threading
import time

from filegate_local.process_tree import kill_trees, parent_pids

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
