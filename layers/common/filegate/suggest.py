"""Mistakes are loud (docs: README "Mistakes are loud"): the one place that names a wrong name or value and
suggests the closest valid one ("did you mean `webp`?").

Every route checks what it was sent against what it declares (its body model, its query parameters, its
form parts, the option table in filegate.formats.options) through `check_names`, and every enumerated
value (target, scope, event) is refused through `did_you_mean`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from filegate.errors import InvalidParameter

# How alike two names must be (difflib's ratio) to be offered: `widht` → `width`, `foo` → nothing.
SIMILARITY = 0.6
MAX_SHOWN = 40  # a hostile name is quoted only this far


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The valid choice nearest to `value`, when one is near enough to be what was meant."""
    candidates = list(dict.fromkeys(choices))
    lowered = {c.lower(): c for c in candidates}
    if value.lower() in lowered:  # only the case differs
        return lowered[value.lower()]
    found = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=SIMILARITY)
    return lowered[found[0]] if found else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` when a choice is near `value`, else the empty string."""
    nearest = closest(value, choices)
    return f" (did you mean `{nearest}`?)" if nearest is not None else ""


def shown(value: object) -> str:
    """A client's value, quoted and cut short, for a message."""
    text = value if isinstance(value, str) else repr(value)
    return f"`{text[:MAX_SHOWN]}`"


def unknown_parameter(
    name: str, accepted: Iterable[str], *, kind: str = "parameter", prefix: str = ""
) -> InvalidParameter:
    """422 invalid_parameter naming a field, form part or query parameter the route does not take."""
    accepted = sorted(set(accepted))
    hint = did_you_mean(name, accepted)
    takes = f"; it takes: {', '.join(accepted)}" if accepted else "; it takes none"
    return InvalidParameter(f"{prefix}{name}: unknown {kind}{hint}{takes}.")


def check_names(given: Iterable[str], accepted: Iterable[str], *, kind: str = "parameter", prefix: str = "") -> None:
    """InvalidParameter for the first name in `given` that is not in `accepted`."""
    allowed = set(accepted)
    for name in given:
        if name not in allowed:
            raise unknown_parameter(name, allowed, kind=kind, prefix=prefix)
