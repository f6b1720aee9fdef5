"""Pools of warm worker processes, one pool per function, like Lambda execution environments.

A pool spawns workers on demand up to its limit and keeps them warm. One worker serves one invocation at a
time. An invocation that outlives the function's Timeout kills its worker ("Task timed out"), a worker that
dies is replaced by the next invocation's cold start, and every worker's stdout/stderr go to the
function's log file (and the console, if asked).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from filegate_local.lifeline import child_environment
from filegate_local.model import FunctionSpec
from filegate_local.process_tree import kill_trees
from filegate_local.runtime import (
    FRAME_HEADER,
    dumps_body_beside,
    encode_frame,
    json_size,
    put_body_back,
    write_all,
)
from filegate_local.template import REGION

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding filegate_local/
LAMBDA_INIT_TIMEOUT_SECONDS = 10.0
# After SIGKILL: how long to wait for the process to be reaped and for its log pump to drain the pipe.
KILLED_EXIT_SECONDS = 2.0
KILLED_PUMP_SECONDS = 0.5
# Largest single read from a worker's protocol pipe (a pipe hands over at most its capacity at once).
READ_CHUNK = 1 << 20
# Lambda caps a synchronous invocation's request payload at 6 MB.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
# Variables passed through from our own environment; everything else a function sees comes from the
# template or is set here, as in Lambda (and no developer credentials ever reach a function).
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "COVERAGE_PROCESS_START", "SYSTEMROOT")


@dataclass
class Invocation:
    """The outcome of one invocation, as the Lambda Invoke API would report it."""

    request_id: str
    status: str  # "ok", "error" (the function raised), "timeout", "crash", "init_error", "too_large"
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class LogSink:
    """One function's log: a file, optionally echoed to the console with the function's name."""

    def __init__(self, path: Path, label: str, echo: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._label = label
        self._echo = echo
        self._lock = threading.Lock()
        self._file = path.open("ab", buffering=0)
        self._subscribers: list[Callable[[bytes], None]] = []  # CloudWatch Logs subscriptions (log_subscriptions)

    def subscribe(self, subscriber: Callable[[bytes], None]) -> None:
        self._subscribers.append(subscriber)

    def write_line(self, line: bytes) -> None:
        for subscriber in self._subscribers:
            subscriber(line)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line if line.endswith(b"\n") else line + b"\n")
            if self._echo:
                text = line.decode("utf-8", "backslashreplace").rstrip("\n")
                sys.stderr.write(f"[{self._label}] {text}\n")
                sys.stderr.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class WorkerDied(Exception):
    pass


class WorkerTimedOut(Exception):
    pass


class Worker:
    """One worker process and the two ends of its protocol stream."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], sink: LogSink) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "filegate_local.runtime", str(spec.code_dir), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**env, **child_environment()},
            cwd=str(spec.code_dir),
            start_new_session=True,  # Ctrl-C at the console reaches us, not the workers directly
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin: IO[bytes] = self.proc.stdin
        self._stdout_fd = self.proc.stdout.fileno()
        self._pump = threading.Thread(
            target=self._pump_logs, args=(self.proc.stderr, sink), name=f"log-{spec.logical_id}", daemon=True
        )
        self._pump.start()

    @staticmethod
    def _pump_logs(stream: IO[bytes], sink: LogSink) -> None:
        for line in iter(stream.readline, b""):
            sink.write_line(line)
        stream.close()

    def _read_exactly(self, size: int, deadline: float, selector: selectors.BaseSelector) -> bytearray:
        """`size` bytes of the protocol stream, read straight into one buffer, by `deadline` at the latest.

        Never reads past the frame: the worker writes nothing between frames, so nothing is left over.
        """
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut
            if not selector.select(remaining):
                continue
            count = os.readv(self._stdout_fd, [view[got : got + READ_CHUNK]])
            if not count:
                raise WorkerDied(f"exit code {self.proc.wait(timeout=5)}")
            got += count
        return buffer

    def _read_message(self, deadline: float) -> dict[str, Any]:
        """One frame from the worker (see runtime.py): its JSON message, with a result's body put back."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._stdout_fd, selectors.EVENT_READ)
            size, beside_size = FRAME_HEADER.unpack(self._read_exactly(FRAME_HEADER.size, deadline, selector))
            payload = self._read_exactly(size, deadline, selector)
            beside = self._read_exactly(beside_size, deadline, selector)
        message: dict[str, Any] = json.loads(payload)
        if beside:
            put_body_back(message["result"], beside)
        return message

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        return self._read_message(time.monotonic() + timeout)

    def invoke(self, request_frame: bytes, timeout: float) -> dict[str, Any]:
        try:
            # Straight to the fd in large writes: the worker reads the whole frame before it runs anything.
            write_all(self._stdin.fileno(), request_frame)
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise WorkerDied(str(exc)) from exc
        return self._read_message(time.monotonic() + timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, pump_timeout: float = KILLED_PUMP_SECONDS) -> None:
        """SIGKILL the worker and whatever it started (LibreOffice, FFmpeg; see process_tree), so nothing
        outlives it or holds its log pipe open."""
        if self.proc.poll() is None:  # not reaped yet: its pid is still its own
            kill_trees([self.proc.pid])
        self.reap(pump_timeout)

    def reap(self, pump_timeout: float) -> None:
        """After a kill: collect the exit status, close our ends of its pipes, let the log pump drain."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=KILLED_EXIT_SECONDS)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.join_pump(pump_timeout)

    def join_pump(self, timeout: float) -> None:
        self._pump.join(timeout=timeout)

    def close_input(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()

    def stop(self, grace: float = 2.0) -> None:
        """Close the protocol stream (the worker exits by itself), then make sure it is gone."""
        self.close_input()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self.kill()


@dataclass
class PoolStats:
    invocations: int = 0


class FunctionPool:
    """Up to `max_workers` warm workers of one function; invocations wait for a free one."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        sink: LogSink,
        max_workers: int,
    ) -> None:
        self.spec = spec
        self.env = dict(env)
        self.sink = sink
        limit = max_workers if spec.reserved_concurrency is None else min(max_workers, spec.reserved_concurrency)
        self.max_workers = max(1, limit)
        self.stats = PoolStats()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._closing: list[Worker] = []  # told to exit, not yet reaped
        self._spawning = 0
        self._lock = threading.Condition()
        self._closed = False
        self._listeners: list[Callable[[], None]] = []
        # Callers that must not block on the invocation (API Gateway's 29 s integration timeout lets the
        # function run on) submit here.
        self._executor = ThreadPoolExecutor(
            max_workers=max(8, self.max_workers * 4), thread_name_prefix=spec.logical_id
        )

    # ------------------------------------------------------------------ acquiring workers

    def _acquire(self, deadline: float) -> Worker | Invocation:
        with self._lock:
            while True:
                if self._closed:
                    raise RuntimeError("pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    worker.kill()
                if len(self._busy) + self._spawning < self.max_workers:
                    self._spawning += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Invocation(
                        request_id="",
                        status="timeout",
                        error={
                            "errorMessage": "No free execution environment",
                            "errorType": "TooManyRequestsException",
                        },
                    )
                self._lock.wait(remaining)
        return self._cold_start()

    def _cold_start(self) -> Worker | Invocation:
        worker: Worker | None = None
        try:
            worker = Worker(self.spec, self.env, self.sink)
            message = worker.wait_ready(LAMBDA_INIT_TIMEOUT_SECONDS + self.spec.timeout_seconds)
        except (WorkerDied, WorkerTimedOut, OSError, ValueError) as exc:
            if worker is not None:
                worker.kill()
            with self._lock:
                self._spawning -= 1
                self._lock.notify()
            kind = "Runtime.ExitError" if not isinstance(exc, WorkerTimedOut) else "Sandbox.Timedout"
            return Invocation("", "init_error", error={"errorMessage": f"init failed: {exc!r}", "errorType": kind})
        with self._lock:
            self._spawning -= 1
            if message.get("type") != "ready":
                worker.kill()
                self._lock.notify()
                return Invocation("", "init_error", error=message.get("error"))
            if self._closed:
                worker.stop()
                raise RuntimeError("pool is closed")
            self._busy.add(worker)
            return worker

    def _release(self, worker: Worker, keep: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if keep and worker.alive() and not self._closed:
                self._idle.append(worker)
            else:
                worker.kill()
            self._lock.notify()

    # ------------------------------------------------------------------ invoking

    def invoke(self, event: Any, request_id: str | None = None, wait_seconds: float | None = None) -> Invocation:
        """Invoke synchronously (RequestResponse); blocks until the function returns or times out."""
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        timeout = self.spec.timeout_seconds
        try:
            payload, beside = dumps_body_beside(event)
        except (TypeError, ValueError) as exc:
            return self._count(
                Invocation(
                    request_id, "error", error={"errorMessage": str(exc), "errorType": "InvalidRequestContentException"}
                )
            )
        if json_size(payload, beside) > MAX_REQUEST_BYTES:
            error = {
                "errorMessage": f"Request must be smaller than {MAX_REQUEST_BYTES} bytes "
                "for the InvokeFunction operation",
                "errorType": "RequestEntityTooLargeException",
            }
            return self._count(Invocation(request_id, "too_large", error=error))
        acquired = self._acquire(started + (wait_seconds if wait_seconds is not None else 60.0 + timeout))
        if isinstance(acquired, Invocation):
            acquired.request_id = request_id
            if acquired.status == "init_error":
                self.sink.write_line(
                    f"INIT_REPORT RequestId: {request_id} Status: error {json.dumps(acquired.error)}".encode()
                )
            return self._count(acquired)
        worker = acquired
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        # The envelope around the already-encoded event, so the (possibly multi-MB) event is encoded once.
        envelope = (
            f'{{"request_id":{json.dumps(request_id)},"deadline_ms":{deadline_ms},'
            f'"invoked_function_arn":{json.dumps(self.spec.arn)},"event":'
        ).encode()
        frame = encode_frame(envelope + payload + b"}", beside)
        invoke_started = time.monotonic()
        try:
            message = worker.invoke(frame, timeout)
        except WorkerTimedOut:
            self._release(worker, keep=False)
            elapsed = time.monotonic() - invoke_started
            self.sink.write_line(
                f"REPORT RequestId: {request_id}\tDuration: {elapsed * 1000:.2f} ms\tStatus: timeout".encode()
            )
            error = {
                "errorMessage": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} "
                f"Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            return self._count(Invocation(request_id, "timeout", error=error, duration_ms=elapsed * 1000))
        except (WorkerDied, ValueError) as exc:
            self._release(worker, keep=False)
            self.sink.write_line(f"RequestId: {request_id} Error: Runtime exited ({exc})".encode())
            error = {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited ({exc})",
                "errorType": "Runtime.ExitError",
            }
            return self._count(Invocation(request_id, "crash", error=error))
        duration = (time.monotonic() - invoke_started) * 1000
        self._release(worker, keep=True)
        if message.get("type") == "result":
            return self._count(Invocation(request_id, "ok", result=message.get("result"), duration_ms=duration))
        error = dict(message.get("error") or {})
        error.setdefault("requestId", request_id)
        return self._count(Invocation(request_id, "error", error=error, duration_ms=duration))

    def submit(self, event: Any, request_id: str | None = None) -> Future[Invocation]:
        """Invoke in the background; the caller may stop waiting while the function runs on."""
        return self._executor.submit(self.invoke, event, request_id)

    def on_invoked(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each invocation (the stream pollers: the function may have written)."""
        self._listeners.append(listener)

    def _count(self, invocation: Invocation) -> Invocation:
        with self._lock:
            self.stats.invocations += 1
        for listener in self._listeners:
            listener()
        return invocation

    # ------------------------------------------------------------------ lifecycle

    def warm(self, count: int = 1) -> None:
        """Start `count` workers ahead of the first request (optional; pools also start on demand)."""
        for _ in range(min(count, self.max_workers)):
            acquired = self._acquire(time.monotonic() + 60)
            if isinstance(acquired, Worker):
                self._release(acquired, keep=True)

    def begin_close(self) -> None:
        """Take no more invocations and tell every worker to exit (EOF of its protocol stream)."""
        with self._lock:
            self._closed = True
            self._closing.extend([*self._idle, *self._busy])
            self._idle.clear()
            self._busy.clear()
            self._lock.notify_all()
        for worker in self._closing:
            worker.close_input()

    def close(self, deadline: float | None = None) -> None:
        """Stop every worker; one still busy at `deadline` (an invocation in progress) is killed.

        Bounded: the workers get until `deadline` together to exit by themselves, then are all killed at
        once, and their log pumps get a short shared wait (never one wait per worker in turn)."""
        self.begin_close()
        deadline = time.monotonic() + 1.0 if deadline is None else deadline
        closing, self._closing = self._closing, []
        for worker in closing:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        kill_trees([worker.proc.pid for worker in closing if worker.proc.poll() is None])  # one scan for all
        for worker in closing:
            worker.reap(pump_timeout=0.0)
        pumps_deadline = time.monotonic() + KILLED_PUMP_SECONDS
        for worker in closing:
            worker.join_pump(max(0.0, pumps_deadline - time.monotonic()))
        self._executor.shutdown(wait=False, cancel_futures=True)


def function_environment(
    spec: FunctionSpec,
    *,
    moto_endpoint: str,
    region: str = REGION,
    base_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a worker runs with: Lambda's reserved variables, the template's, the endpoints."""
    source = os.environ if base_env is None else base_env
    env = {k: source[k] for k in PASSTHROUGH_ENV if k in source}
    python_path = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs), str(PACKAGE_ROOT)]
    log_group = f"/aws/lambda/{spec.name}"
    env.update(
        {
            # What Lambda sets.
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            # Dummy credentials: moto accepts anything, and nothing can reach a real account.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            # Where the SDKs send their calls: moto for everything.
            "AWS_ENDPOINT_URL": moto_endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "FILEGATE_LOCAL_FUNCTION_ARN": spec.arn,
            "PYTHONPATH": os.pathsep.join(python_path),
        }
    )
    env.update(spec.environment)  # the template's variables win, as in Lambda
    return env
