"""Running FFmpeg on untrusted media: an argument list (never a shell) inside a sandbox of limits.

Every run is confined the same way (docs/api.md "Media": hostile media never reads another file, opens a
connection or runs past its time limit):
- the demuxer is forced (``-f``) from the sniffed type and it alone is allowed (``-format_whitelist``, which
  FFmpeg copies to nested demuxers, e.g. the playlist hidden in an AVI's GAB2 subtitle chunk);
- only the ``file`` protocol may be opened by the input (``-protocol_whitelist``), and no stdin (``-nostdin``);
  the one exception is an input read in ranges from S3 (long media, ``url_input_args``): FFmpeg is then given
  ``http`` and ``tcp`` (http rides on tcp) and one URL, ``http://127.0.0.1:<port>/<token>``, served by our own
  process (http_source), which answers that path with that one object and nothing else. FFmpeg has no option
  to hold http to one host, so what keeps it there is the forced single demuxer (none of those we allow opens
  a URL of its own: no playlists, concat or references) and that it never sees a credential or a presigned URL;
- the child gets CPU-time (RLIMIT_CPU), address-space (RLIMIT_AS) and file-size (RLIMIT_FSIZE, the output cap)
  limits, runs in its own process group, and the whole group is killed when the wall-clock limit passes.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from filegate.errors import ConversionFailed

# What we keep of FFmpeg's stderr (the probe's stream lines, an error's last lines).
STDERR_KEEP_BYTES = 256 * 1024
# SIGXCPU arrives at the soft CPU limit; the hard limit (SIGKILL) a moment later if it is ignored.
CPU_HARD_GRACE_SECONDS = 2
REAP_POLL_SECONDS = 0.02
# How often a run's -progress report is read while it runs (FFmpeg writes one every 0.5 s).
PROGRESS_POLL_SECONDS = 1.0
# How often FFmpeg appends a block to its -progress report (its own default).
PROGRESS_PERIOD_SECONDS = 0.5
_OUT_TIME = re.compile(rb"out_time_us=(\d+)")


@dataclass(frozen=True)
class Sandbox:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int  # address space of the child
    max_output_bytes: int  # any file the child writes


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stderr: str
    timed_out: bool
    seconds: float
    pid: int  # also the process group's id
    cpu_exhausted: bool = False  # the child used its whole CPU-time allowance

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def killed_by(self) -> str | None:
        """Which limit ended the run, in words, or None."""
        if self.timed_out:
            return "the time limit"
        if self.cpu_exhausted or self.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            return "the CPU time limit"
        if self.returncode == -signal.SIGXFSZ:
            return "the output size limit"
        return None


@cache
def ffmpeg_binary(configured: str = "") -> str:
    """The FFmpeg executable: a configured path, else the static build shipped by imageio-ffmpeg."""
    if configured:
        return configured
    import imageio_ffmpeg  # the FFmpeg layer (media worker, files)

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def input_args(path: Path, demuxer: str, *, seek: float | None = None) -> list[str]:
    """The confined input: forced demuxer, that demuxer only, file protocol only; `seek` before -i."""
    args = ["-f", demuxer, "-format_whitelist", demuxer, "-protocol_whitelist", "file"]
    if seek:
        args += ["-ss", f"{seek:.3f}"]
    # "file:" keeps a name that starts with a protocol-like prefix from being read as a URL.
    return [*args, "-i", f"file:{path}"]


def url_input_args(url: str, demuxer: str, *, seek: float | None = None) -> list[str]:
    """`input_args` for an input served over loopback HTTP by http_source (ranged reads of a stored object)."""
    args = ["-f", demuxer, "-format_whitelist", demuxer, "-protocol_whitelist", "http,tcp"]
    if seek:
        args += ["-ss", f"{seek:.6f}"]
    return [*args, "-i", url]


def _limits(sandbox: Sandbox) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        cpu = max(1, sandbox.cpu_seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + CPU_HARD_GRACE_SECONDS))
        resource.setrlimit(resource.RLIMIT_AS, (sandbox.memory_bytes, sandbox.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (sandbox.max_output_bytes, sandbox.max_output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


@contextlib.contextmanager
def _paused(group: int) -> Iterator[None]:
    """The child's process group stopped while in it (its wall clock runs on)."""
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGCONT)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run(
    args: Sequence[str],
    sandbox: Sandbox,
    *,
    workdir: Path,
    binary: str = "",
    on_progress: Callable[[float], None] | None = None,
    while_running: Callable[[Callable[[], AbstractContextManager[None]]], None] | None = None,
) -> RunResult:
    """Run ``ffmpeg <args>`` confined by `sandbox`, in `workdir`; never raises on FFmpeg's own failure.
    `on_progress` is given the output time reached (seconds, from FFmpeg's own -progress report) while it runs;
    `while_running` is called every PROGRESS_POLL_SECONDS meanwhile (and may raise: the run is then killed) with
    `paused`, a context manager that holds the child still (SIGSTOP … SIGCONT) while it is in it."""
    run_id = time.monotonic_ns()
    reporting: list[str] = []
    ticks: list[Callable[[], None]] = []
    if on_progress is not None:
        progress_path = workdir / f"progress-{run_id}.txt"
        reporting = ["-progress", f"file:{progress_path}", "-stats_period", f"{PROGRESS_PERIOD_SECONDS:g}"]
        ticks.append(_progress_reader(progress_path, on_progress))
    command = [ffmpeg_binary(binary), "-hide_banner", "-nostdin", *reporting, *args]
    stderr_path = workdir / f"ffmpeg-{run_id}.log"
    started = time.monotonic()
    timed_out = False
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin"},  # nothing of ours (credentials, endpoints) reaches the child
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=_limits(sandbox),  # limits set in the child before exec
        )
        if while_running is not None:
            ticks.append(partial(while_running, partial(_paused, process.pid)))
        try:
            reaped = _reap(process.pid, started + sandbox.wall_seconds, ticks)
        except BaseException:  # a tick failed: the child is killed and reaped, never left a zombie
            _kill_group(process)
            os.wait4(process.pid, 0)
            raise
        finally:
            _kill_group(process)  # on timeout, and any straggler of a finished run
        if reaped is None:
            timed_out = True
            reaped = os.wait4(process.pid, 0)[1:]
        status, usage = reaped
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    # FFmpeg catches SIGXCPU and exits "normally": the child's own CPU time says whether the limit was hit.
    cpu_exhausted = usage.ru_utime + usage.ru_stime >= sandbox.cpu_seconds
    text = _tail(stderr_path)
    stderr_path.unlink(missing_ok=True)
    if reporting:
        (workdir / f"progress-{run_id}.txt").unlink(missing_ok=True)
    return RunResult(process.returncode, text, timed_out, seconds, process.pid, cpu_exhausted)


def _reap(
    pid: int, deadline: float, ticks: Sequence[Callable[[], None]] = ()
) -> tuple[int, resource.struct_rusage] | None:
    """Wait for the child until `deadline` (monotonic), calling each of `ticks` every PROGRESS_POLL_SECONDS;
    its wait status and resource usage, or None."""
    next_tick = time.monotonic() + PROGRESS_POLL_SECONDS
    while True:
        reaped_pid, status, usage = os.wait4(pid, os.WNOHANG)
        if reaped_pid == pid:
            return status, usage
        now = time.monotonic()
        if now >= deadline:
            return None
        if ticks and now >= next_tick:
            for tick in ticks:
                tick()
            next_tick = time.monotonic() + PROGRESS_POLL_SECONDS
        time.sleep(REAP_POLL_SECONDS)


def _progress_reader(path: Path, on_progress: Callable[[float], None]) -> Callable[[], None]:
    """Reads the last output time of a -progress report (the file FFmpeg appends a block to)."""

    def tick() -> None:
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - 2048))
                found = _OUT_TIME.findall(handle.read())
        except FileNotFoundError:  # not written yet
            return
        if found:
            on_progress(int(found[-1]) / 1_000_000)

    return tick


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > STDERR_KEEP_BYTES:
            head = handle.read(STDERR_KEEP_BYTES // 2)
            handle.seek(size - STDERR_KEEP_BYTES // 2)
            data = head + b"\n...\n" + handle.read()
        else:
            data = handle.read()
    return data.decode("utf-8", "replace")


def failure(result: RunResult, what: str) -> ConversionFailed:
    """The conversion_failed error for a run that did not succeed; the message never quotes FFmpeg."""
    limit = result.killed_by()
    if limit is not None:
        return ConversionFailed(f"The {what} was stopped by {limit}; the media may be corrupt or hostile.")
    return ConversionFailed(f"The {what} failed: the media is corrupt, truncated or not what it claims to be.")
