"""Lambda-like workers (filegate_local.workers) running a handler this test writes: Lambda's context, logs
and error shapes, a crash replaced, a timeout killed with what the function started, an import failure."""

from __future__ import annotations

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
    if event == "raise":
        raise ValueError("bad input")
    if event == "slow":
        print("started", subprocess.Popen(["sleep", "60"], start_new_session=True).pid, flush=True)
        time.sleep(10)
    print("line one to stdout")
    print("line two to stderr", file=sys.stderr)
    return "x" * 7_000_000 if event == "big" else {"pid": os.getpid(), "left": context.get_remaining_time_in_millis(),
                                                    "name": context.function_name}
"""


def make_pool(tmp_path: Path, handler: str) -> FunctionPool:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec(
        "Fn",
        "st-Fn",
        "arn:aws:lambda:us-east-1:123456789012:function:st-Fn",
        tmp_path,
        handler,
        "python3.13",
        2.0,
        128,
        {},
        (),
    )
    env = function_environment(spec, moto_endpoint="http://127.0.0.1:9")
    return FunctionPool(spec, env, LogSink(tmp_path / "Fn.log", "Fn", echo=False), max_workers=1)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    functions = make_pool(tmp_path, "app.handler")
    yield functions
    functions.close()


def test_a_worker_runs_the_handler_with_lambdas_context_logs_and_error_shapes(pool: FunctionPool) -> None:
    invocation = pool.invoke("hello")
    assert invocation.ok and invocation.result["name"] == "st-Fn" and 0 < invocation.result["left"] <= 2000
    failed = pool.invoke("raise")
    assert failed.status == "error" and failed.error["errorType"] == "ValueError" and failed.error["stackTrace"]
    assert pool.invoke("big").error["errorType"] == "Function.ResponseSizeTooLarge"
    assert pool.invoke("x" * 7_000_000).status == "too_large" and pool.stats.invocations == 4
    pool.close(time.monotonic() + 5)  # the log is complete once the pool is closed
    log = pool.sink.path.read_text()
    for line in (
        "line one to stdout",
        "line two to stderr",
        "START RequestId:",
        "REPORT RequestId:",
        "[ERROR] ValueError: bad input",
    ):
        assert line in log


def test_a_crashed_worker_is_replaced_and_a_slow_one_is_killed_with_its_children(pool: FunctionPool) -> None:
    first = pool.invoke("hello").result["pid"]
    assert pool.invoke("crash").status == "crash" and process_gone(first)
    started = time.monotonic()
    timed_out = pool.invoke("slow")
    assert timed_out.status == "timeout" and timed_out.error["errorType"] == "Sandbox.Timedout"
    assert 1.8 <= time.monotonic() - started < 6  # the spec's Timeout is 2 s; the handler would sleep 10
    child = int(re.findall(r"started (\d+)", pool.sink.path.read_text())[-1])
    assert all_gone_within([child], [], 5) and pool.invoke("hello").ok  # the child, in a session of its own, too


def test_a_handler_that_cannot_be_imported_is_an_init_error(tmp_path: Path) -> None:
    pool = make_pool(tmp_path, "missing.handler")
    invocation = pool.invoke({})
    pool.close()
    assert invocation.status == "init_error" and invocation.error["errorType"] == "Runtime.ImportModuleError"
