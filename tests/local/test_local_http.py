"""The local stack over real HTTP and real processes: the transport in front of the gateway (template.yaml's
session stack), Lambda-like workers running a handler this test writes, and `filegate-local`'s start, stop
and restart as `make dev` runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from filegate_local import LocalStack
from filegate_local.model import FunctionSpec
from filegate_local.workers import FunctionPool, LogSink, function_environment
from tests.helpers.processes import all_gone_within, child_pids, free_ports, process_gone

ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
    return value


def raw_http(port: int, payload: bytes, *, shutdown_write: bool = False, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the gateway; everything it answers before closing, a whole response, or the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lengths = [
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            ]
            if not chunk or (lengths and len(body) >= lengths[0]):
                break
        return data


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def port_of(stack: LocalStack) -> int:
    assert stack.gateway is not None
    return stack.gateway.port


# --------------------------------------------------------------------------------------------- transport

TOO_LARGE = f"Content-Length: {10 * 1024 * 1024 + 1}\r\n"


@pytest.mark.parametrize(
    "payload",
    [
        f"POST /v1/convert HTTP/1.1\r\nHost: x\r\n{TOO_LARGE}\r\n".encode(),
        f"POST /v1/convert HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n{TOO_LARGE}\r\n".encode(),
    ],
    ids=["content-length", "expect-continue"],
)
def test_a_body_over_the_payload_limit_is_413_before_it_is_sent(stack: LocalStack, payload: bytes) -> None:
    started = time.monotonic()
    raw = raw_http(port_of(stack), payload)
    assert status_of(raw) == 413 and b'"file_too_large"' in raw
    assert b"X-Request-Body-Bytes: 10485761" in raw
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"GET /v1/health HTTP/9.9\r\n\r\n",
    ],
    ids=["garbage", "bad-length", "negative-length", "bad-header", "bad-chunk", "long-line", "bad-version"],
)
def test_malformed_http_gets_a_4xx_quickly(stack: LocalStack, payload: bytes) -> None:
    started = time.monotonic()
    raw = raw_http(port_of(stack), payload, shutdown_write=True)
    assert 400 <= status_of(raw) < 500 or status_of(raw) == 505
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "payload",
    [
        b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}",
        b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n{}",
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_that_stops_short_is_a_prompt_400(stack: LocalStack, http: httpx.Client, payload: bytes) -> None:
    """The client keeps the connection open, waiting for an answer to a body it never finishes."""
    started = time.monotonic()
    raw = raw_http(port_of(stack), payload, timeout=10)
    assert time.monotonic() - started < 5
    assert status_of(raw) == 400
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "invalid_request" and body["error"]["request_id"]  # DEFAULT_4XX's body
    assert http.get("/v1/health").status_code == 200  # and the gateway still serves


def test_chunked_bodies_are_read(stack: LocalStack) -> None:
    payload = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    assert status_of(raw_http(port_of(stack), payload)) == 200


def test_the_templates_404_and_the_stack_state(stack: LocalStack, http: httpx.Client) -> None:
    response = http.get("/v1/definitely-not-a-route")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (
        response.json()["error"]["request_id"]
        == response.headers["X-Request-Id"]
        == response.headers["x-amzn-RequestId"]
    )
    assert stack.state["apis"]["Api"]["name"] == "filegate-local-api"
    assert stack.state["outputs"]["ApiId"] == stack.state["api_id"]


# --------------------------------------------------------------------------------------------- workers

HANDLER = """
import os, sys, time

print("imported", flush=True)


def handler(event, context):
    if event == "crash":
        os._exit(3)
    if event == "slow":
        time.sleep(10)
    print("line one to stdout")
    print("line two to stderr", file=sys.stderr)
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis(), "name": context.function_name}
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(HANDLER)
    spec = FunctionSpec("Fn", "st-Fn", "arn:aws:lambda:us-east-1:123456789012:function:st-Fn", tmp_path / "fn",
                        "app.handler", "python3.13", 2.0, 128, {}, ())  # fmt: skip
    env = function_environment(spec, moto_endpoint="http://127.0.0.1:9")
    functions = FunctionPool(spec, env, LogSink(tmp_path / "Fn.log", "Fn", echo=False), max_workers=1)
    try:
        yield functions
    finally:
        functions.close()


def test_a_worker_runs_the_handler_with_lambdas_context_and_its_output_goes_to_the_log(pool: FunctionPool) -> None:
    invocation = pool.invoke("hello")
    assert invocation.ok and invocation.result["name"] == "st-Fn" and 0 < invocation.result["remaining_ms"] <= 2000
    log = wait_for(lambda: (text := pool.sink.path.read_text()) and "line two" in text and text)
    assert "line one to stdout" in log and "START RequestId:" in log and "REPORT RequestId:" in log


def test_a_crashed_worker_is_replaced_and_a_slow_one_is_killed_at_its_timeout(pool: FunctionPool) -> None:
    first = pool.invoke("hello").result["pid"]
    assert pool.invoke("crash").status == "crash"
    started = time.monotonic()
    assert pool.invoke("slow").status == "timeout"
    assert 1.8 <= time.monotonic() - started < 6  # the spec's Timeout is 2 s; the handler would sleep 10
    assert process_gone(first) and pool.invoke("hello").ok


# --------------------------------------------------------------------------------------------- the CLI


def cli(state_dir: Path, port: int, moto_port: int, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "python"), "-m", "filegate_local", "--template", str(ROOT / "template.yaml"),
        "--port", str(port), "--moto-port", str(moto_port), "--state-dir", str(state_dir), "--no-echo-logs", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra")}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def wait_up(process: subprocess.Popen[bytes], state_dir: Path) -> dict[str, Any]:
    def up() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"filegate-local exited with {process.returncode}: {stderr}")
        return (state_dir / "stack.json").exists()

    wait_for(up, timeout=120)
    return json.loads((state_dir / "stack.json").read_text())  # type: ignore[no-any-return]


def leave_time_wait(port: int) -> None:
    """Leave a TIME_WAIT connection on a server port, as a stopped stack does for a minute."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end (our port) goes to TIME_WAIT
        client.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serves_stops_on_sigterm_restarts_on_the_same_ports_and_refuses_a_second(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    for taken in (port, moto_port):
        leave_time_wait(taken)
    first = cli(tmp_path / "state", port, moto_port, "--stack-name", "clitest", "--param", "LogLevel=DEBUG")
    try:
        state = wait_up(first, tmp_path / "state")  # TIME_WAIT is not "in use"
        assert state["parameters"]["LogLevel"] == "DEBUG" and state["outputs"]["KeysTableName"] == "clitest-KeysTable"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=HTTP_TIMEOUT).status_code == 200
        second = cli(tmp_path / "state", port, moto_port)
        try:
            assert second.wait(timeout=60) != 0
            stderr = (second.stderr.read() if second.stderr else b"").decode()
            assert len(stderr.strip().splitlines()) == 1 and f"already running (pid {first.pid})" in stderr, stderr
        finally:
            stop(second)
        children = child_pids(first.pid)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        assert all(process_gone(pid) for pid in children) and not (tmp_path / "state" / "stack.json").exists()
        assert b"curl -s -X POST" in (first.stderr.read() if first.stderr else b"")
        again = cli(tmp_path / "state", port, moto_port)  # right away, on the same ports
        try:
            wait_up(again, tmp_path / "state")
            assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=HTTP_TIMEOUT).status_code == 200
            children = child_pids(again.pid)
            again.send_signal(signal.SIGINT)  # Ctrl-C
            assert again.wait(timeout=20) == 0
            assert all_gone_within(children, [port, moto_port], 5)
        finally:
            stop(again)
    finally:
        stop(first)


def test_a_killed_stack_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    process = cli(tmp_path / "state", port, moto_port)
    try:
        wait_up(process, tmp_path / "state")
        for path, headers in (("/v1/health", {}), ("/v1/keys", {"Authorization": "Bearer x"})):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=HTTP_TIMEOUT)
        children = wait_for(lambda: len(c := child_pids(process.pid)) >= 3 and c)  # moto, two workers
        process.kill()  # SIGKILL: no chance to clean up
        process.wait()
        assert all_gone_within(children, [port, moto_port], 5)
    finally:
        stop(process)
