"""Lambda-like workers (filegate_local.workers) running a handler this test writes."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from filegate_local.model import FunctionSpec
from filegate_local.workers import FunctionPool, LogSink, function_environment
from tests.helpers.processes import all_gone_within, process_gone

HANDLER = """
import os, subprocess, sys, time
def handler(event, context):
    if event == "crash":
        os._exit(3)
    if event == "slow":
        print("started", subprocess.Popen(["sleep", "60"], start_new_session=True).pid, flush=True)
        time.sleep(10)
    print("line one to stdout")
    print("line two to stderr", file=sys.stderr)
    assert event != "raise", "bad input"
    result = [os.getpid(), context.get_remaining_time_in_millis(), context.function_name]
    return "x" * 7_000_000 if event == "big" else result
"""


def make_pool(tmp_path: Path, handler: str = "app.handler") -> FunctionPool:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec("Fn", "st-Fn", "arn:st-Fn", tmp_path, handler, "python3.13", 2.0, 128, {}, ())
    env = function_environment(spec, moto_endpoint="http://127.0.0.1:9")
    return FunctionPool(spec, env, LogSink(tmp_path / "Fn.log", "Fn", echo=False), max_workers=1)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    yield (functions := make_pool(tmp_path))
    functions.close()


def test_a_worker_runs_the_handler_with_lambdas_context_logs_and_errors(pool: FunctionPool, tmp_path: Path) -> None:
    invocation = pool.invoke("hello")
    assert invocation.ok and invocation.result[2] == "st-Fn" and 0 < invocation.result[1] <= 2000
    failed = pool.invoke("raise").error
    assert failed["errorType"] == "AssertionError" and failed["errorMessage"] == "bad input" and failed["stackTrace"]
    assert pool.invoke("big").error["errorType"] == "Function.ResponseSizeTooLarge"
    assert pool.invoke("x" * 7_000_000).status == "too_large" and pool.stats.invocations == 4
    pool.close(time.monotonic() + 5)  # the log is complete once the pool is closed
    log = pool.sink.path.read_text()
    assert re.search(r"START RequestId:.*\nline one to stdout\nline two to stderr\nEND .*\nREPORT RequestId:", log)
    assert "[ERROR] AssertionError: bad input\nTraceback" in log
    broken = make_pool(tmp_path, "missing.handler").invoke({})  # its worker is gone at once: nothing to close
    assert broken.status == "init_error" and broken.error["errorType"] == "Runtime.ImportModuleError"


def test_a_crashed_worker_is_replaced_and_a_slow_one_is_killed_with_its_children(pool: FunctionPool) -> None:
    first = pool.invoke("hello").result[0]
    assert pool.invoke("crash").status == "crash" and process_gone(first)
    slow = pool.invoke("slow")  # the spec's Timeout is 2 s; the handler would sleep 10
    assert slow.status == "timeout" and slow.error["errorType"] == "Sandbox.Timedout" and 1800 < slow.duration_ms < 6000
    child = int(re.findall(r"started (\d+)", pool.sink.path.read_text())[-1])
    assert all_gone_within([child], [], 5) and pool.invoke("hello").ok  # the child, in a session of its own, too
    (idle := pool._idle[-1]).proc.kill()  # a warm worker dies while idle (the OOM killer, say)
    assert idle.proc.wait(5) and pool.invoke("hello").ok  # replaced by a cold start, not a failed invocation
