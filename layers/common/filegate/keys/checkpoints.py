"""Named points inside a key or account change, where a test can hold one change while another runs.

Races between changes (a revoke and an edit of one key, a rotation and a narrowing, a tier change and a
revoke) are decided by the order of a few writes. Tests drive every order deterministically by pausing a
change at these points, or make a step fail there; in production the hook is None and nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable

_hook: Callable[[str], None] | None = None


def checkpoint(name: str) -> None:
    """Reached ``name`` ("versioned", "written", "stamp", …): the test's hook may wait or raise here."""
    if _hook is not None:
        _hook(name)


def set_hook(hook: Callable[[str], None] | None) -> None:
    global _hook
    _hook = hook
