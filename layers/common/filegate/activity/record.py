"""One activity line per request of a recognised key: what the rollup reads from the functions' logs.

The HTTP functions open a note when a request starts (``begin``), name its key once the authorizer's context
is read (``note_key``), add the conversions it starts (``note_conversion``) and its error code, and log the
line when the answer is sent (``finish``). The authorizer logs the same line when it refuses a key it
recognised (``refused_at_edge``). Logging is the only cost on the request path: no write.

The line is written to stdout as one JSON object, whatever the function's log level: it is a record the
rollup counts, not a diagnostic a ``LogLevel`` of WARNING may silence.
"""

from __future__ import annotations

import json
import sys
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from filegate.activity.outcomes import classify

LOG_FIELD: Final = "activity"  # the log line's field the subscription filter selects: {$.activity.outcome = *}


@dataclass
class Note:
    """What one request did, filled in as it goes (mutable: FastAPI's worker threads share the object)."""

    at: datetime
    source_ip: str
    key_id: str | None = None
    code: str | None = None
    conversions: int = 0
    units: int = 0


_current: ContextVar[Note | None] = ContextVar("filegate_activity_note", default=None)


def begin(at: datetime, source_ip: str) -> Token[Note | None]:
    return _current.set(Note(at=at, source_ip=source_ip))


def note_key(key_id: str) -> None:
    """The request's key is recognised: from here on its answer counts for the key."""
    note = _current.get()
    if note is not None:
        note.key_id = key_id


def note_error(code: str) -> None:
    note = _current.get()
    if note is not None:
        note.code = code


def note_conversion(units: int) -> None:
    """A conversion started by this request (its units as planned when it was queued or run)."""
    note = _current.get()
    if note is not None:
        note.conversions += 1
        note.units += units


def line(
    key_id: str, at: datetime, source_ip: str, status: int, code: str | None, conversions: int, units: int
) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "at": int(at.timestamp()),
        "ip": source_ip,
        "status": status,
        "outcome": classify(status, code),
        "conversions": conversions,
        "units": units,
    }


def finish(token: Token[Note | None], status: int | None) -> None:
    """Log the request's activity line (only when a key was recognised and an answer was sent)."""
    note = _current.get()
    _current.reset(token)
    if note is None or note.key_id is None or status is None:
        return
    _write(line(note.key_id, note.at, note.source_ip, status, note.code, note.conversions, note.units))


def refused_at_edge(key_id: str, at: datetime, source_ip: str) -> None:
    """The authorizer refused a key it found (revoked, expired): the 401 counts for that key."""
    _write(line(key_id, at, source_ip, 401, "invalid_api_key", 0, 0))


def _write(fields: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"message": "activity", LOG_FIELD: fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()
