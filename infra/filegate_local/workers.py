"""Pools of warm worker processes (filegate_local.runtime), one per function, like Lambda execution environments:
started on demand up to the pool's limit, one invocation at a time each; one that outlives the function's
Timeout is killed, a dead one replaced by a cold start. Their stdout and stderr go to the function's LogSink.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pipe
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from filegate_local.lifeline import child_environment, kill_trees
from filegate_local.model import FunctionSpec
from filegate_local.template import REGION

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding filegate_local/
LAMBDA_INIT_TIMEOUT_SECONDS = 10.0
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Lambda's cap on a synchronous invocation's request payload
# All a function sees of our own environment (as in Lambda, no developer credentials ever reach a function).
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "COVERAGE_PROCESS_START")


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
    """One function's log: a file, echoed to the console if asked, offered to CloudWatch Logs subscriptions."""

    def __init__(self, path: Path, label: str, echo: bool) -> None:
        self.path, self._label, self._echo = path, label, echo
        self._lock = threading.Lock()
        self._file = path.open("ab", buffering=0)
        self._subscribers: list[Callable[[bytes], None]] = []

    def subscribe(self, subscriber: Callable[[bytes], None]) -> None:
        self._subscribers.append(subscriber)

    def write_line(self, line: bytes) -> None:
        for subscriber in self._subscribers:
            subscriber(line)
        with self._lock:
            if not self._file.closed:
                self._file.write(line if line.endswith(b"\n") else line + b"\n")
            if self._echo:
                print(f"[{self._label}] {line.decode('utf-8', 'backslashreplace').rstrip()}", file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def failure(status: str, error_type: str, message: str) -> dict[str, Any]:  # a reply the worker did not send
    return {"type": status, "error": {"errorMessage": message, "errorType": error_type}}


class Worker:
    """One worker process, our end of its connection, and the thread pumping its output into the log."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], sink: LogSink) -> None:
        self.connection, theirs = Pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "filegate_local.runtime", spec.handler, str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, **child_environment()},
            cwd=spec.code_dir,
            pass_fds=[theirs.fileno()],
            start_new_session=True,  # Ctrl-C at the console reaches us, not the workers directly
        )
        theirs.close()
        self.pump = threading.Thread(target=self._pump, args=(sink,), daemon=True)
        self.pump.start()

    def _pump(self, sink: LogSink) -> None:
        for line in self.proc.stdout or ():
            sink.write_line(line)

    def exchange(self, request: bytes | None, timeout: float, request_id: str) -> dict[str, Any]:
        """Send a request (None: only read the "ready" message), read the reply by `timeout` (else a failure)."""
        try:
            if request is not None:
                self.connection.send_bytes(request)
            if self.connection.poll(timeout):
                return json.loads(self.connection.recv_bytes())  # type: ignore[no-any-return]
        except (OSError, EOFError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2.0)
            message = f"RequestId: {request_id} Error: Runtime exited (exit code {self.proc.returncode})"
            return failure("crash", "Runtime.ExitError", message)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        message = f"{when} {request_id} Task timed out after {timeout:.2f} seconds"
        return failure("timeout", "Sandbox.Timedout", message)


class FunctionPool:
    """Up to `max_workers` warm workers of one function; invocations wait for a free one."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], sink: LogSink, max_workers: int) -> None:
        self.spec, self.env, self.sink = spec, dict(env), sink
        reserved = max_workers if spec.reserved_concurrency is None else spec.reserved_concurrency
        self.max_workers = max(1, min(max_workers, reserved))
        self.stats = SimpleNamespace(invocations=0)
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()  # every live one, idle or busy
        self._lock = threading.Condition()
        self._closed = False
        self._listeners: list[Callable[[], None]] = []
        self._executor = ThreadPoolExecutor(max(8, self.max_workers * 4), thread_name_prefix=spec.logical_id)

    def _acquire(self, deadline: float, request_id: str = "") -> Worker | dict[str, Any]:
        """A warm worker, else a cold one, or the failure reply: none free by `deadline`, or the init failed."""
        with self._lock:
            while not self._idle and len(self._workers) >= self.max_workers and not self._closed:
                if not self._lock.wait(deadline - time.monotonic()):
                    return failure("timeout", "TooManyRequestsException", "No free execution environment")
            if self._closed:
                raise RuntimeError("pool is closed")
            while self._idle:
                if (idle := self._idle.pop()).proc.poll() is None:
                    return idle
                self._workers.discard(idle)  # died while idle: a cold start, not a failed invocation
            worker = Worker(self.spec, self.env, self.sink)  # counted at once; close() stops it from now on
            self._workers.add(worker)
        reply = worker.exchange(None, LAMBDA_INIT_TIMEOUT_SECONDS + self.spec.timeout_seconds, request_id)
        if reply["type"] == "ready":
            return worker
        self._release(worker, keep=False)
        return {**reply, "type": "init_error"}

    def _release(self, worker: Worker, keep: bool) -> None:
        with self._lock:
            keep = keep and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._lock.notify()
        if not keep:  # close its connection, SIGKILL it with all it started (LibreOffice, FFmpeg: lifeline)
            worker.connection.close()
            if worker.proc.poll() is None:  # not reaped yet: its pid is still its own (Popen reaps it later)
                kill_trees([worker.proc.pid])

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        """Invoke synchronously (RequestResponse): blocks until the function returns or fails."""
        request_id, started, timeout = request_id or str(uuid.uuid4()), time.monotonic(), self.spec.timeout_seconds
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > MAX_REQUEST_BYTES:
            message = f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
            reply = failure("too_large", "RequestEntityTooLargeException", message)
        elif isinstance(worker := self._acquire(started + 60.0 + timeout, request_id), Worker):
            request = b"[%s,%d,%s]" % (json.dumps(request_id).encode(), (time.time() + timeout) * 1000, payload)
            reply = worker.exchange(request, timeout, request_id)
            self._release(worker, keep=reply["type"] in ("ok", "error"))
        else:
            reply = worker
        if reply["type"] in ("timeout", "crash", "init_error"):
            self.sink.write_line(reply["error"]["errorMessage"].encode())
        invocation = Invocation(request_id, reply["type"], reply.get("result"), reply.get("error"))
        invocation.duration_ms = (time.monotonic() - started) * 1000
        with self._lock:
            self.stats.invocations += 1
        for listener in self._listeners:
            listener()
        return invocation

    def submit(self, event: Any, request_id: str | None = None) -> Future[Invocation]:
        """Invoke in the background; the caller may stop waiting while the function runs on."""
        return self._executor.submit(self.invoke, event, request_id)

    def on_invoked(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each invocation (the stream pollers: the function may have written)."""
        self._listeners.append(listener)

    def warm(self) -> None:
        """Start one worker ahead of the first request (pools also start them on demand)."""
        with contextlib.suppress(RuntimeError):
            if isinstance(worker := self._acquire(time.monotonic() + 60), Worker):
                self._release(worker, keep=True)

    def begin_close(self) -> None:
        """Take no more invocations (a waiter fails at once); idle workers exit (their connection closes), busy
        ones when their invocation ends."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            for worker in self._idle:
                worker.connection.close()

    def close(self, deadline: float | None = None) -> None:
        """Stop every worker: those still busy at `deadline` are killed with all they started, all at once (one
        scan of the process table); then their logs get a short shared wait."""
        self.begin_close()
        deadline = time.monotonic() + 1.0 if deadline is None else deadline
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
        kill_trees([worker.proc.pid for worker in workers if worker.proc.poll() is None])
        for worker in workers:  # their invocations end now (a crash), each closing its connection
            worker.pump.join(max(0.0, deadline + 2.0 - time.monotonic()))
        self._executor.shutdown(wait=False, cancel_futures=True)


def function_environment(
    spec: FunctionSpec, *, moto_endpoint: str, base_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a worker runs with: what Lambda sets, the template's variables, moto for every SDK."""
    source = os.environ if base_env is None else base_env
    return {
        **{name: source[name] for name in PASSTHROUGH_ENV if name in source},
        **dict.fromkeys(("AWS_REGION", "AWS_DEFAULT_REGION"), REGION),
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        # Dummy credentials: moto accepts anything, and nothing can reach a real account.
        **dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "testing"),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "FILEGATE_LOCAL_FUNCTION_ARN": spec.arn,
        "PYTHONPATH": os.pathsep.join(map(str, (spec.code_dir, *spec.layer_dirs, PACKAGE_ROOT))),
        **spec.environment,  # the template's variables win, as in Lambda
    }
