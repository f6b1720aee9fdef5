"""Is the authorizer's (cached) context still true? Decided from the stamps the metering write returned.

No stamp newer than the context's versions: it is (no read at all). Otherwise the function reads the key
and account again (consistent reads), re-runs the authorizer's own checks on them, and remembers the
answer in this container for the stamps it has seen, so the next requests with the same cached context
pay nothing until the next change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from filegate.context import AuthContext
from filegate.keys.authorizer import Unauthorized, reauthenticate
from filegate.keys.stamps import Stamps

MEMORY_ENTRIES = 10_000  # answers remembered per container (least recently used go first)


@dataclass(frozen=True)
class _Answer:
    account_stamp: int  # the stamps this answer is fresh for
    key_stamp: int
    context: AuthContext | None  # None: the key no longer authenticates


class _Memory:
    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[tuple[str, int, int, str], _Answer] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int, str]) -> _Answer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
            return answer

    def put(self, key: tuple[str, int, int, str], answer: _Answer) -> None:
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_memory = _Memory(MEMORY_ENTRIES)


@dataclass(frozen=True)
class Outcome:
    context: AuthContext
    reread: bool  # the records were read again for this request


def current(context: AuthContext, stamps: Stamps, source_ip: str, now: datetime) -> Outcome:
    """The context to authorize this request with; Unauthorized if the key no longer authenticates."""
    if not stamps.newer_than(context):
        return Outcome(context, reread=False)
    account_stamp, key_stamp = stamps.account, stamps.key(context.key_id)
    memory_key = (context.key_id, context.key_version, context.account_version, source_ip)
    known = _memory.get(memory_key)
    if known is not None and known.account_stamp >= account_stamp and known.key_stamp >= key_stamp:
        if known.context is None:
            raise Unauthorized("key refused since a change (remembered)")
        return Outcome(known.context, reread=False)
    # Read after the stamps were: the records are at least as new as the change that stamped them.
    try:
        fresh = reauthenticate(context.key_id, source_ip or None, now).context
    except Unauthorized:
        _memory.put(memory_key, _Answer(account_stamp, key_stamp, None))
        raise
    _memory.put(memory_key, _Answer(account_stamp, key_stamp, fresh))
    return Outcome(fresh, reread=True)
