"""The sync budget (docs/api.md "Conversion"): work that will not finish in time continues as a job instead of
ending in a 504. Two guards: an estimate from what the header says (pixels, format) decides early, and the
work itself runs in a forked child that is killed when it overruns — a thread could not be stopped, and it
would go on holding the CPU, the memory and the engine's lock in a frozen Lambda container.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from filegate.engines.image import vips
from filegate.engines.interface import OverBudget
from filegate.errors import ConversionFailed

T = TypeVar("T")

# Seconds per megapixel on one Lambda core, deliberately pessimistic (about twice what
# tests/bench/bench_engine.py measures), for decoding each source and encoding each target.
_DECODE_S_PER_MP = {"jpg": 0.02, "png": 0.05, "avif": 0.1, "heic": 0.15, "heif": 0.15, "jxl": 0.1, "dng": 0.3}
_ENCODE_S_PER_MP = {"jpg": 0.03, "png": 0.15, "webp": 0.2, "avif": 0.15, "gif": 0.2, "tiff": 0.1, "jxl": 0.3}
_COMPRESS_S_PER_MP = {"png": 0.3, "webp": 0.35, "avif": 0.15, "gif": 0.3}
_DEFAULT_DECODE_S_PER_MP = 0.05
_DEFAULT_ENCODE_S_PER_MP = 0.05


def estimated_seconds(source: str, pixels: int, target: str | None) -> float:
    """A pessimistic estimate of the engine's time for `pixels` (the source's size); target None is compress."""
    megapixels = pixels / 1_000_000
    decode = _DECODE_S_PER_MP.get(source, _DEFAULT_DECODE_S_PER_MP)
    if target is None:
        encode = _COMPRESS_S_PER_MP.get(source, _DEFAULT_ENCODE_S_PER_MP)
    else:
        encode = _ENCODE_S_PER_MP.get(target, _DEFAULT_ENCODE_S_PER_MP)
    return megapixels * (decode + encode)


def run_within(work: Callable[[], T], seconds: float) -> T:
    """`work()`'s result, computed in a forked child; OverBudget (the child killed) past `seconds`.

    Exceptions raised by `work` are raised here. The child shares nothing back but the pickled outcome, and
    leaves with os._exit so no buffered output or exit handler of the parent runs twice.
    """
    if seconds <= 0:
        raise OverBudget
    import pickle  # here, before the fork (the child inherits it): a conversion run in place never needs it

    parent_ran_libvips = vips.has_run()
    read_end, write_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        vips.disable_after_fork(parent_ran_libvips)
        _child(work, write_end)
    os.close(write_end)
    try:
        payload = _read_until(read_end, time.monotonic() + seconds)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not payload:
        raise ConversionFailed("The conversion ran out of memory or crashed.")
    kind, value = pickle.loads(payload)  # noqa: S301 (our own child's bytes)
    if kind == "error":
        raise value
    return value  # type: ignore[no-any-return]


def _child(work: Callable[[], object], write_end: int) -> None:
    import pickle  # loaded by run_within before the fork: no import cost here

    code = 0
    try:
        try:
            payload = pickle.dumps(("ok", work()))
        except BaseException as exc:  # carried to the parent, which raises it
            try:
                payload = pickle.dumps(("error", exc))
            except Exception:
                payload = pickle.dumps(("error", ConversionFailed()))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _read_until(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OverBudget
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise OverBudget
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
