"""The local stack over real HTTP: the gateway's transport (on tests/local/conftest.py's session stack), and
`filegate-local`'s start, stop and restart as `make dev` runs it.
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
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx
import pytest

from filegate_local import LocalStack
from tests.helpers.processes import all_gone_within, child_pids, free_ports, process_gone

ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
TOO_LARGE = f"Content-Length: {10 * 1024 * 1024 + 1}\r\n"
SHORT = b"POST /v1/keys/free HTTP/1.1\r\nHost: x\r\n"


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (f"POST /v1/convert HTTP/1.1\r\nHost: x\r\n{TOO_LARGE}\r\n".encode(), 413, b"X-Request-Body-Bytes: 10485761"),
        (f"POST /v1/convert HTTP/1.1\r\nExpect: 100-continue\r\n{TOO_LARGE}\r\n".encode(), 413, b'"file_too_large"'),
        (b"GARBAGE\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, b'"invalid_request"'),
        (b"GET /v1/health HTTP/9.9\r\n\r\n", 505, b'"invalid_request"'),
        (SHORT + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}", 400, b'"request_id": "'),
        (SHORT + b"Transfer-Encoding: chunked\r\n\r\n64\r\n{}", 400, b'"invalid_request"'),  # a chunk stops short
    ],
    ids=[
        "too-large",
        "expect-100",
        "garbage",
        "bad-length",
        "negative",
        "no-colon",
        "bad-chunk",
        "version",
        "short",
        "short-chunk",
    ],
)
def test_what_the_gateway_will_not_serve_gets_its_gateway_response_quickly(
    stack: LocalStack, payload: bytes, status: int, expected: bytes
) -> None:
    """Before a body over the limit is sent; within the body stall limit (2 s) for a body that stops short."""
    assert stack.gateway is not None
    started, answer = time.monotonic(), b""
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=10) as sock:
        sock.sendall(payload)  # and waits for the answer, the connection open
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):  # the gateway closes the connection after its answer
                answer += chunk
    assert int(answer.split(b" ", 2)[1]) == status and expected in answer, answer
    assert time.monotonic() - started < 5 and b"x-amzn-RequestId: " in answer


def test_chunked_bodies_keep_alive_and_head(stack: LocalStack, http: httpx.Client) -> None:
    assert stack.gateway is not None
    connection = HTTPConnection("127.0.0.1", stack.gateway.port, timeout=60)
    connection.request("POST", "/v1/health", body=iter([b"hello", b" world"]), encode_chunked=True)
    first = connection.getresponse()
    assert (first.status, first.getheader("Transfer-Encoding")) == (405, None) and first.read()
    sock = connection.sock
    connection.request("HEAD", "/v1/health")
    head = connection.getresponse()
    assert (head.status, head.read(), connection.sock) == (200, b"", sock)  # the same connection
    assert int(head.getheader("Content-Length") or 0) > 0
    connection.close()
    missing = http.get("/v1/definitely-not-a-route")
    error = missing.json()["error"]
    assert (missing.status_code, error["code"]) == (404, "not_found")
    assert error["request_id"] == missing.headers["X-Request-Id"] == missing.headers["x-amzn-RequestId"]
    assert stack.state["apis"]["Api"]["name"] == "filegate-local-api"


def cli(state_dir: Path, port: int, moto_port: int, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "filegate_local",
        "--template",
        str(ROOT / "template.yaml"),
    ]
    command += ["--port", str(port), "--moto-port", str(moto_port), "--state-dir", str(state_dir), "--no-echo-logs"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra")}
    return subprocess.Popen([*command, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def wait_up(process: subprocess.Popen[bytes], state_dir: Path) -> dict[str, Any]:
    def up() -> bool:
        assert process.poll() is None, (process.stderr.read() if process.stderr else b"").decode()
        return (state_dir / "stack.json").exists()

    wait_for(up, timeout=120)
    return json.loads((state_dir / "stack.json").read_text())  # type: ignore[no-any-return]


@contextlib.contextmanager
def running(*args: Any) -> Iterator[subprocess.Popen[bytes]]:
    process = cli(*args)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def leave_time_wait(port: int) -> None:
    """Leave a TIME_WAIT connection on a server port, as a stopped stack does for a minute."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        listener.accept()[0].close()  # the server side closes first: its end (our port) goes to TIME_WAIT
        client.close()


def test_serves_stops_on_sigterm_restarts_on_the_same_ports_and_refuses_a_second(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    for taken in (port, moto_port):
        leave_time_wait(taken)
    state = tmp_path / "state"
    with running(state, port, moto_port, "--stack-name", "clitest", "--param", "LogLevel=DEBUG") as first:
        values = wait_up(first, state)  # TIME_WAIT is not "in use"
        assert values["parameters"]["LogLevel"] == "DEBUG" and values["outputs"]["KeysTableName"] == "clitest-KeysTable"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=HTTP_TIMEOUT).status_code == 200
        with running(state, port, moto_port) as second:
            assert second.wait(timeout=60) != 0
            stderr = (second.stderr.read() if second.stderr else b"").decode()
            assert len(stderr.strip().splitlines()) == 1 and f"already running (pid {first.pid})" in stderr, stderr
        children = child_pids(first.pid)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        assert all(process_gone(pid) for pid in children) and not (state / "stack.json").exists()
        assert b"curl -s -X POST" in (first.stderr.read() if first.stderr else b"")
    with running(state, port, moto_port) as again:  # right away, on the same ports
        wait_up(again, state)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=HTTP_TIMEOUT).status_code == 200
        children = child_pids(again.pid)
        again.send_signal(signal.SIGINT)  # Ctrl-C
        assert again.wait(timeout=20) == 0
        assert all_gone_within(children, [port, moto_port], 5)


def test_a_killed_stack_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    port, moto_port = free_ports(2)
    with running(tmp_path / "state", port, moto_port) as process:
        wait_up(process, tmp_path / "state")
        for path, headers in (("/v1/health", {}), ("/v1/keys", {"Authorization": "Bearer x"})):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=HTTP_TIMEOUT)
        children = wait_for(lambda: len(c := child_pids(process.pid)) >= 3 and c)  # moto, two workers
        process.kill()  # SIGKILL: no chance to clean up
        process.wait()
        assert all_gone_within(children, [port, moto_port], 5)
