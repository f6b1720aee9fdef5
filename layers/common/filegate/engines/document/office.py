"""One warm LibreOffice per process, driven through the converter process (uno_converter.py).

The converter (a Python that has ``uno``, with soffice.bin as its child) runs in its own session and process
group and sandboxes itself (sandbox: no network; with Landlock, no files but the system's and one scratch
directory of its own, which holds its HOME, TMPDIR and profile).
Each conversion gets a job directory in that scratch directory, wiped when it ends. The converter is started
on first use (the cold start), kept between conversions, and started afresh after ``restart_after``
conversions (when the job that made the last one ends), and whenever one hangs past its time limit or it dies:
the whole process group is killed, its scratch directory wiped, and the next conversion starts a new one.

Checkpoints (``on_checkpoint``) let tests act at named points: ``"started"`` (the converter is ready; its
``soffice_pid`` is known) and ``"sent"`` (a request is on its way to LibreOffice).
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

from filegate.engines.document import profile, sandbox

_CONVERTER = Path(__file__).with_name("uno_converter.py")
_PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/lib/libreoffice/program/python", "python3")
_SOFFICE_CANDIDATES = ("/usr/lib/libreoffice/program/soffice.bin", "/opt/libreoffice/program/soffice.bin")


# How long a stop waits for a killed LibreOffice to be gone (a SIGKILL takes effect in milliseconds).
STOP_WAIT_SECONDS = 5.0


class OfficeUnavailable(RuntimeError):
    """LibreOffice or a Python with ``uno`` is missing, or LibreOffice did not start."""


class OfficeTimeout(Exception):
    """The conversion ran past its time limit; the converter was killed."""


class OfficeCrashed(Exception):
    """The converter died during the conversion."""


@dataclass(frozen=True)
class OfficeSettings:
    restart_after: int = 200  # conversions per LibreOffice process
    start_seconds: float = 60.0  # the longest a cold start may take
    scratch_root: Path | None = None  # where scratch directories go (None: the system's temporary directory)
    profile_template: Path | None = None  # a profile baked in advance (None: baked on first use, once)


@cache
def uno_python() -> str:
    """A Python that can import LibreOffice's ``uno``."""
    for candidate in _PYTHON_CANDIDATES:
        path = shutil.which(candidate)
        if path is None:
            continue
        probe = subprocess.run([path, "-c", "import uno"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return path
    raise OfficeUnavailable("no Python with LibreOffice's uno module (install python3-uno)")


@cache
def soffice_binary() -> str:
    for candidate in _SOFFICE_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("soffice")
    if found is None:
        raise OfficeUnavailable("LibreOffice is not installed")
    real = Path(found).resolve()
    binary = real.with_name("soffice.bin")
    return str(binary if binary.exists() else real)


_BAKE_LOCK = threading.Lock()


def baked_profile(settings: OfficeSettings) -> Path:
    """The profile template: the one given, else one baked on first use in this machine's temporary
    directory (per user and per version of the settings), kept for every later process."""
    if settings.profile_template is not None:
        return settings.profile_template
    template = Path(tempfile.gettempdir()) / f"filegate-office-profile-{os.getuid()}-{profile.fingerprint()}"
    with _BAKE_LOCK:
        if not (template / "user" / profile.PROFILE_FILE).exists():
            profile.bake(template, soffice_binary())
    return template


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    scratch: Path
    pipe: str  # the UNO pipe's name
    soffice_pid: int
    conversions: int = 0
    reader: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    buffer: bytearray = field(default_factory=bytearray)


class Office:
    """The converter of this process (one conversion at a time)."""

    def __init__(
        self, settings: OfficeSettings | None = None, on_checkpoint: Callable[[str, Office], None] | None = None
    ) -> None:
        self.settings = settings or OfficeSettings()
        self.on_checkpoint = on_checkpoint
        self._running: _Running | None = None
        self._lock = threading.Lock()
        self.starts = 0  # how many converters were started (tests, the bench)
        self.last_start_seconds: float | None = None  # the last cold start

    @property
    def soffice_pid(self) -> int | None:
        return None if self._running is None else self._running.soffice_pid

    def start(self) -> None:
        """Start the converter now (a cold start paid before the first conversion)."""
        with self._lock:
            self._ensure_started()

    @contextmanager
    def job(self) -> Iterator[Path]:
        """A job directory inside the converter's scratch directory (what it may see), wiped afterwards."""
        with self._lock:
            running = self._ensure_started()
            directory = Path(tempfile.mkdtemp(prefix="job-", dir=running.scratch))
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            with self._lock:
                # Retired here, not when its answer came: the job's output is read first.
                if self._running is running and running.conversions >= self.settings.restart_after:
                    self._stop()

    def convert(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Send one request; the converter's answer. OfficeTimeout past `seconds`, OfficeCrashed when it dies
        (either way it is gone, and the next call starts another)."""
        with self._lock:
            running = self._ensure_started()
            running.conversions += 1
            assert running.process.stdin is not None
            try:
                running.process.stdin.write(json.dumps(request).encode() + b"\n")
                running.process.stdin.flush()
            except OSError as exc:
                self._stop()
                raise OfficeCrashed("the converter is gone") from exc
            self._checkpoint("sent")
            try:
                answer = self._read_line(running, time.monotonic() + seconds)
            except (OfficeTimeout, OfficeCrashed):
                self._stop()
                raise
            if not answer.get("ok") and not alive(running.soffice_pid):
                # LibreOffice died under the request: the converter's answer then blames the document (it
                # could not load it), but the crash is what happened, and the next call needs a new one.
                self._stop()
                raise OfficeCrashed("LibreOffice stopped during the conversion")
            return answer

    def stop(self) -> None:
        with self._lock:
            self._stop()

    # ---------------------------------------------------------------------------------------------- internals

    def _checkpoint(self, name: str) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(name, self)

    def _ensure_started(self) -> _Running:
        running = self._running
        if running is not None and running.process.poll() is None and alive(running.soffice_pid):
            return running
        self._stop()
        began = time.monotonic()
        template = baked_profile(self.settings)
        scratch = Path(tempfile.mkdtemp(prefix="office-", dir=self.settings.scratch_root))
        try:
            shutil.copytree(template, scratch / "profile")
            for name in ("home", "tmp"):
                (scratch / name).mkdir()
            pipe = f"filegate-{secrets.token_hex(8)}"
            # A session (and process group) of its own: killed whole when it hangs. It sandboxes itself.
            process = subprocess.Popen(
                [uno_python(), "-I", str(_CONVERTER), soffice_binary(), (scratch / "profile").as_uri(), pipe,
                 str(scratch)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=_environment(scratch), cwd=scratch, close_fds=True, start_new_session=True,
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        running = _Running(process, scratch, pipe, soffice_pid=0)
        running.reader.register(process.stdout, selectors.EVENT_READ)
        self._running = running
        try:
            hello = self._read_line(running, began + self.settings.start_seconds)
        except (OfficeTimeout, OfficeCrashed) as exc:
            self._stop()
            raise OfficeUnavailable("LibreOffice did not start") from exc
        running.soffice_pid = int(hello["soffice_pid"])
        self.starts += 1
        self.last_start_seconds = time.monotonic() - began
        self._checkpoint("started")
        return running

    def _read_line(self, running: _Running, deadline: float) -> dict[str, Any]:
        stdout: IO[bytes] | None = running.process.stdout
        assert stdout is not None
        while b"\n" not in running.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OfficeTimeout
            if not running.reader.select(left):
                continue
            chunk = stdout.read(65536)
            if chunk == b"":  # end of file: the converter died
                raise OfficeCrashed
            if chunk is not None:
                running.buffer += chunk
        line, _, rest = bytes(running.buffer).partition(b"\n")
        running.buffer = bytearray(rest)
        answer = json.loads(line)
        assert isinstance(answer, dict)
        return answer

    def _stop(self) -> None:
        """Kill the converter's whole process group (LibreOffice with it) and wipe its scratch directory."""
        running, self._running = self._running, None
        if running is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait()
        # The group's SIGKILL reaches LibreOffice asynchronously: wait (bounded) until it is gone too, so a new
        # one never starts beside it (two would not fit the function's memory).
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while running.soffice_pid and alive(running.soffice_pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        with suppress(FileNotFoundError):  # LibreOffice's pipe, which the sandbox does not let it remove
            (Path(sandbox.PIPE_DIRECTORY) / f"OSL_PIPE_{os.getuid()}_{running.pipe}").unlink()
        running.reader.close()
        for stream in (running.process.stdin, running.process.stdout):
            if stream is not None:
                stream.close()
        shutil.rmtree(running.scratch, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by the converter, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _environment(scratch: Path) -> dict[str, str]:
    """Nothing of this process's environment (no credentials): a scratch HOME and TMPDIR, and headless."""
    return {
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",
    }


if __name__ == "__main__":  # bake the profile ahead (an image build): python -m filegate.engines.document.office DIR
    import sys

    print(profile.bake(Path(sys.argv[1]), soffice_binary()))
