"""Sign-in answers that take the same time whatever happened (docs/api.md §7).

Whether an email went out or a limit held it back, whether a code was pending, wrong or right, each sign-in
answer leaves no sooner than a fixed time after its request arrived: an observer timing the answers learns
nothing about who is signing in. Work that overruns the floor is not padded (it is already slower than any
answer an observer could compare it with); the floor sits well above the slowest path (an SES send).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Padding:
    """Pads an answer to `seconds` after its start, by `clock` (monotonic seconds) and `sleep` (injected by
    tests, which drive both with a fake clock instead of timing anything)."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def start(self) -> float:
        return self.clock()

    def remaining(self, started: float) -> float:
        """How long the answer must still wait to leave at the floor (0 past it)."""
        return max(0.0, self.seconds - (self.clock() - started))

    async def wait(self, started: float) -> None:
        left = self.remaining(started)
        if left > 0:
            await self.sleep(left)
