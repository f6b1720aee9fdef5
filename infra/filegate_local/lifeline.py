"""Child processes of the local stack (moto, function workers) die with it, however it ends.

They run in sessions of their own (so Ctrl-C at the console reaches only the stack, which stops them in
order), which also means nothing kills them if the stack itself is killed. A watchdog thread in each child
notices that its parent is gone (it was re-parented) and ends the process at once, with whatever it started
(a function's LibreOffice or FFmpeg). Not PR_SET_PDEATHSIG:
that fires when the *thread* that started the child exits, and workers are started from request threads.
"""

from __future__ import annotations

import os
import threading
import time

from filegate_local.process_tree import kill_trees, parent_pids

PARENT_PID_ENV = "FILEGATE_LOCAL_PARENT_PID"
CHECK_INTERVAL_SECONDS = 0.25


def child_environment() -> dict[str, str]:
    """What to add to a child's environment so that `exit_with_parent` knows whom to watch."""
    return {PARENT_PID_ENV: str(os.getpid())}


def exit_with_parent() -> None:
    """In a child: end this process as soon as the parent named in its environment is gone."""
    value = os.environ.pop(PARENT_PID_ENV, None)  # not inherited by the function's own subprocesses
    if value is None:
        return  # started by hand, not by the stack
    parent = int(value)
    if os.getppid() != parent:
        _exit_with_own_group()  # the parent died before we got here

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(CHECK_INTERVAL_SECONDS)
        _exit_with_own_group()

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _exit_with_own_group() -> None:
    """End this process at once (the kernel closes our sockets and pipes) and what it started too: a
    function's LibreOffice or FFmpeg, which run in sessions of their own (see process_tree)."""
    own = os.getpid()
    kill_trees([pid for pid, parent in parent_pids().items() if parent == own])
    os._exit(0)
